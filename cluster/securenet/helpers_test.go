package securenet

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKey returns a fixed cluster key; seed makes different keys.
func testKey(seed byte) []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

func testConfig(purpose string) Config {
	cfg := DefaultTestConfig()
	cfg.Purpose = purpose
	return cfg
}

// logBuffer collects a logger's lines for tests.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (lb *logBuffer) Write(p []byte) (int, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.buf.Write(p)
}

func (lb *logBuffer) String() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.buf.String()
}

func (lb *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitLog waits until a line holding all of parts is logged.
func (lb *logBuffer) waitLog(t *testing.T, parts ...string) string {
	t.Helper()
	var line string
	eventually(t, 5*time.Second, func() bool {
		for _, l := range strings.Split(lb.String(), "\n") {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(l, p)
			}
			if ok {
				line = l
				return true
			}
		}
		return false
	}, "a log line with %q; got:\n%s", parts, lb)
	return line
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, within time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listen starts a listener on loopback with key and cfg, logging to the
// returned buffer, closed at the end of the test.
func listen(t *testing.T, key []byte, cfg Config) (net.Listener, *logBuffer) {
	t.Helper()
	lb := &logBuffer{}
	cfg.Logger = lb.logger()
	l, err := Listen("127.0.0.1:0", key, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, lb
}

// accept calls l.Accept in a goroutine; the result arrives on the channel.
type acceptResult struct {
	c   net.Conn
	err error
}

func acceptAsync(l net.Listener) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := l.Accept()
		ch <- acceptResult{c, err}
	}()
	return ch
}

func waitAccept(t *testing.T, ch <-chan acceptResult) net.Conn {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Accept: %v", r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return r.c
	case <-time.After(10 * time.Second):
		t.Fatal("Accept did not return")
		return nil
	}
}

// tcpPair returns the two ends of a secure connection over loopback TCP.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	key := testKey(1)
	cfg := testConfig("test")
	l, _ := listen(t, key, cfg)
	ch := acceptAsync(l)
	c, err := Dial(context.Background(), l.Addr().String(), key, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := waitAccept(t, ch)
	if s.RemoteAddr().String() != c.LocalAddr().String() {
		t.Fatalf("accepted %v, dialled from %v", s.RemoteAddr(), c.LocalAddr())
	}
	c.SetDeadline(time.Now().Add(testDeadline))
	s.SetDeadline(time.Now().Add(testDeadline))
	return c, s
}

// handshakeOver runs Client on c and Server on s concurrently.
func handshakeOver(t *testing.T, c, s net.Conn, ckey, skey []byte, ccfg, scfg Config) (client, server net.Conn, cerr, serr error) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		server, serr = Server(context.Background(), s, skey, scfg)
	}()
	client, cerr = Client(context.Background(), c, ckey, ccfg)
	<-done
	for _, x := range []net.Conn{client, server} {
		if x != nil {
			x.SetDeadline(time.Now().Add(testDeadline)) // fail, never hang
			t.Cleanup(func() { x.Close() })
		}
	}
	return client, server, cerr, serr
}

// pipePair returns the two ends of a secure connection over net.Pipe,
// and the raw ends under them.
func pipePair(t *testing.T) (client, server, rawC, rawS net.Conn) {
	t.Helper()
	rawC, rawS = net.Pipe()
	key := testKey(1)
	cfg := testConfig("test")
	client, server, cerr, serr := handshakeOver(t, rawC, rawS, key, key, cfg, cfg)
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	return client, server, rawC, rawS
}

// readN reads exactly n bytes from r, at most chunk bytes per Read.
func readN(r io.Reader, n, chunk int) ([]byte, error) {
	out := make([]byte, n)
	got := 0
	for got < n {
		k, err := r.Read(out[got:min(n, got+chunk)])
		got += k
		if err != nil {
			return out[:got], err
		}
	}
	return out, nil
}

// fakeConn is a net.Conn that reads from r, discards writes and ignores
// deadlines (for fuzzing without goroutines).
type fakeConn struct {
	r io.Reader
}

type fakeAddr struct{}

func (fakeAddr) Network() string { return "fake" }
func (fakeAddr) String() string  { return "fake" }

func (f *fakeConn) Read(b []byte) (int, error)         { return f.r.Read(b) }
func (f *fakeConn) Write(b []byte) (int, error)        { return len(b), nil }
func (f *fakeConn) Close() error                       { return nil }
func (f *fakeConn) LocalAddr() net.Addr                { return fakeAddr{} }
func (f *fakeConn) RemoteAddr() net.Addr               { return fakeAddr{} }
func (f *fakeConn) SetDeadline(t time.Time) error      { return nil }
func (f *fakeConn) SetReadDeadline(t time.Time) error  { return nil }
func (f *fakeConn) SetWriteDeadline(t time.Time) error { return nil }

// recConn records what is written to a net.Conn, and counts the writes.
type recConn struct {
	net.Conn
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (r *recConn) Write(b []byte) (int, error) {
	r.mu.Lock()
	r.buf.Write(b)
	r.writes++
	r.mu.Unlock()
	return r.Conn.Write(b)
}

// reset returns what was recorded and the number of writes, and clears
// them.
func (r *recConn) reset() ([]byte, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := bytes.Clone(r.buf.Bytes())
	n := r.writes
	r.buf.Reset()
	r.writes = 0
	return b, n
}

var errDeadline = os.ErrDeadlineExceeded

// testDeadline is set on test connections so that a broken test fails
// instead of hanging.
const testDeadline = 30 * time.Second
