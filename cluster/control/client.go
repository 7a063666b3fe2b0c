package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dfsproject/dfs/cluster/peer"
)

// DefaultTimeout is a Client's timeout when Timeout is 0.
const DefaultTimeout = 5 * time.Second

// maxAnswer bounds the body of an answer the Client reads.
const maxAnswer = 64 << 20

// Client calls dfsd's control API, either on its unix socket (Socket) or
// over HTTP (Addr, signed with Key). Exactly one of Socket and Addr is set.
// A Client is safe for concurrent use; it keeps no connections between
// calls.
type Client struct {
	// Socket is the path of the control socket (SocketPath of dfsd's data
	// directory).
	Socket string
	// Addr is a node's HTTP address, "host:port" (dfsd --http-addr).
	Addr string
	// Key is the cluster key requests to Addr are signed with.
	Key []byte
	// Timeout bounds each call; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Status returns GET /v1/status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.get(ctx, statusPath, &st)
	return st, err
}

// Alerts returns GET /v1/alerts?n=N: the open alerts and the last n changes
// (1 to MaxAlerts).
func (c *Client) Alerts(ctx context.Context, n int) (AlertList, error) {
	var al AlertList
	if n < 1 || n > MaxAlerts {
		return al, fmt.Errorf("the number of alert changes must be from 1 to %d, not %d", MaxAlerts, n)
	}
	err := c.get(ctx, alertsPath+"?n="+strconv.Itoa(n), &al)
	return al, err
}

// where names the daemon for error messages.
func (c *Client) where() string {
	if c.Socket != "" {
		return "unix socket " + c.Socket
	}
	return c.Addr
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// check reports a Client that is not set up right.
func (c *Client) check() error {
	switch {
	case c.Socket == "" && c.Addr == "":
		return errors.New("control client: set the socket path or the address")
	case c.Socket != "" && c.Addr != "":
		return errors.New("control client: set the socket path or the address, not both")
	case c.Addr != "":
		if _, _, err := net.SplitHostPort(c.Addr); err != nil || strings.Contains(c.Addr, "/") {
			return fmt.Errorf("the address %q must be HOST:PORT", c.Addr)
		}
		if len(c.Key) < peer.MinKeyLen {
			return fmt.Errorf("reaching dfsd at %s over HTTP needs the cluster key", c.Addr)
		}
	}
	return nil
}

// get calls the route uri (a path with its query) and decodes the answer
// into v.
func (c *Client) get(ctx context.Context, uri string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	resp, err := c.do(ctx, http.MethodGet, uri)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return c.unreachable(err)
	}
	if len(body) > maxAnswer {
		return fmt.Errorf("dfsd at %s answered more than %d bytes", c.where(), maxAnswer)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("dfsd at %s answered something that is not the expected JSON: %w", c.where(), err)
	}
	return nil
}

// do sends a request (signed when over HTTP) and returns a 200 answer;
// any other answer becomes the server's sentence. The client's Timeout
// bounds connecting; ctx bounds the rest.
func (c *Client) do(ctx context.Context, method, uri string) (*http.Response, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	// No Proxy: the control API is never reached through $HTTP_PROXY.
	tr := &http.Transport{DisableKeepAlives: true}
	host := c.Addr
	d := net.Dialer{Timeout: c.timeout()}
	if c.Socket != "" {
		host = "dfsd" // any name: the dialer ignores it
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", c.Socket)
		}
	} else {
		tr.DialContext = d.DialContext
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+host+uri, nil)
	if err != nil {
		return nil, fmt.Errorf("control request to %s: %w", c.where(), err)
	}
	req.Header.Set("Accept", "application/json")
	if c.Addr != "" {
		if err := peer.Sign(req, c.Key, nil, time.Now()); err != nil {
			return nil, fmt.Errorf("sign the request to %s: %w", c.where(), err)
		}
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, c.unreachable(err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
		return nil, c.statusError(resp, body)
	}
	return resp, nil
}

// statusError turns an error answer into a sentence: the server's own when
// it sent one.
func (c *Client) statusError(resp *http.Response, body []byte) error {
	var eb errorBody
	msg := ""
	if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
		msg = eb.Error
	} else if line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n"); line != "" {
		msg = fmt.Sprintf("answered %s: %.200q", resp.Status, line)
	} else {
		msg = "answered " + resp.Status
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return &sentence{msg: fmt.Sprintf("dfsd at %s refused the cluster key: %s", c.where(), msg), errs: []error{ErrUnauthorized}}
	}
	return &statusErr{code: resp.StatusCode, reason: msg, msg: fmt.Sprintf("dfsd at %s: %s", c.where(), msg)}
}

// statusErr is an answer other than 200 (and 401).
type statusErr struct {
	code   int
	reason string // the server's sentence
	msg    string
}

func (e *statusErr) Error() string { return e.msg }

// sentence is an error whose text is a whole sentence that already says
// what its wrapped errors would add.
type sentence struct {
	msg  string
	errs []error
}

func (e *sentence) Error() string   { return e.msg }
func (e *sentence) Unwrap() []error { return e.errs }

// unreachable describes err, the failure of a call to get an answer.
func (c *Client) unreachable(err error) error {
	var why, hint string
	var errno syscall.Errno
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		why = fmt.Sprintf("no answer within %v", c.timeout())
	case errors.Is(err, context.Canceled):
		why = "cancelled"
	case errors.As(err, &dnsErr):
		why = dnsErr.Error()
	case errors.As(err, &errno):
		why = errno.Error()
		switch errno {
		case syscall.ENOENT:
			why = "no such file"
		case syscall.EACCES, syscall.EPERM:
			if c.Socket != "" {
				hint = " (only root and the user dfsd runs as may use it)"
			}
		}
		if c.Socket != "" && (errno == syscall.ENOENT || errno == syscall.ECONNREFUSED) {
			hint = fmt.Sprintf(" (is dfsd running with --data %s?)", filepath.Dir(c.Socket))
		}
	default:
		why = err.Error()
		var uerr *url.Error
		if errors.As(err, &uerr) {
			why = uerr.Err.Error()
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			why = "the connection was closed before an answer"
		}
	}
	return &sentence{msg: fmt.Sprintf("cannot reach dfsd at %s: %s%s", c.where(), why, hint), errs: []error{ErrUnreachable, err}}
}
