package securenet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/dfsproject/dfs/cluster/internal/ratelog"
)

// Dial connects to addr ("host:port") over TCP and runs the client side
// of the handshake. ctx bounds the connection and the handshake (which
// cfg.HandshakeTimeout bounds too). If the peer does not hold key, or
// does not complete the handshake, the error wraps ErrHandshake.
func Dial(ctx context.Context, addr string, key []byte, cfg Config) (net.Conn, error) {
	sec, cfg, err := prepare(key, cfg)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("securenet: %w", err)
	}
	return clientHandshake(ctx, c, sec, cfg.HandshakeTimeout)
}

// Listen listens on addr ("host:port") over TCP; see NewListener.
func Listen(addr string, key []byte, cfg Config) (net.Listener, error) {
	sec, cfg, err := prepare(key, cfg)
	if err != nil {
		return nil, err
	}
	inner, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("securenet: %w", err)
	}
	return newListener(inner, sec, cfg), nil
}

// NewListener returns a listener whose Accept returns the connections
// accepted by inner that completed the server side of the handshake with
// a peer holding key. It takes inner over: closing the listener closes
// inner.
//
// Accept never waits on a slow or silent client: each accepted
// connection is handshaken in its own goroutine, within
// cfg.HandshakeTimeout, and only finished connections are delivered. At
// most cfg.MaxHandshakes connections are being handshaken or waiting for
// Accept; one accepted beyond is closed at once. Every refusal is logged
// at Warn with the remote address and the reason, rate-limited. Close
// aborts the handshakes in progress, closes the connections not yet
// delivered, waits for its goroutines and makes Accept return an error
// wrapping net.ErrClosed.
func NewListener(inner net.Listener, key []byte, cfg Config) (net.Listener, error) {
	sec, cfg, err := prepare(key, cfg)
	if err != nil {
		return nil, err
	}
	return newListener(inner, sec, cfg), nil
}

type listener struct {
	inner net.Listener
	sec   *secrets
	cfg   Config
	log   *ratelog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	ready  chan net.Conn  // finished connections, to Accept
	slots  chan struct{}  // one per connection handshaking or in ready
	done   chan struct{}  // closed when the accept loop ends
	err    error          // why the accept loop ended; set before done
	wg     sync.WaitGroup // the accept loop and the handshakes
	once   sync.Once
	cerr   error // inner.Close's
}

func newListener(inner net.Listener, sec *secrets, cfg Config) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{
		inner:  inner,
		sec:    sec,
		cfg:    cfg,
		log:    ratelog.New(cfg.Logger, time.Now),
		ctx:    ctx,
		cancel: cancel,
		ready:  make(chan net.Conn),
		slots:  make(chan struct{}, cfg.MaxHandshakes),
		done:   make(chan struct{}),
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

// Accept returns the next connection that completed the handshake.
func (l *listener) Accept() (net.Conn, error) {
	if l.ctx.Err() != nil {
		return nil, l.closedErr()
	}
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.ctx.Done():
		return nil, l.closedErr()
	case <-l.done:
		if l.ctx.Err() != nil {
			return nil, l.closedErr()
		}
		return nil, fmt.Errorf("securenet: accept: %w", l.err)
	}
}

func (l *listener) closedErr() error {
	a := l.inner.Addr()
	return &net.OpError{Op: "accept", Net: a.Network(), Addr: a, Err: net.ErrClosed}
}

// Close stops the listener; see NewListener. Later calls return the
// first one's result.
func (l *listener) Close() error {
	l.once.Do(func() {
		l.cancel()
		l.cerr = l.inner.Close()
		l.wg.Wait()
	})
	return l.cerr
}

// Addr returns the inner listener's address.
func (l *listener) Addr() net.Addr { return l.inner.Addr() }

func (l *listener) acceptLoop() {
	defer l.wg.Done()
	defer close(l.done)
	var backoff time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				l.err = err
				return
			}
			// Most likely out of file descriptors: wait and retry, as
			// net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.log.Log(slog.LevelWarn, "securenet: accept failed; retrying",
				slog.String("purpose", l.sec.purpose), slog.Duration("backoff", backoff), slog.String("error", err.Error()))
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-l.ctx.Done():
				t.Stop()
			}
			continue
		}
		backoff = 0
		select {
		case l.slots <- struct{}{}:
		default:
			l.log.Log(slog.LevelWarn, "securenet: connection refused: too many handshakes in progress or waiting for Accept",
				slog.String("purpose", l.sec.purpose), slog.String("remote", remote(c)), slog.Int("limit", l.cfg.MaxHandshakes))
			c.Close()
			continue
		}
		l.wg.Add(1)
		go l.handshake(c)
	}
}

// handshake runs the server side of the handshake on c and hands the
// connection to Accept. It holds a slot until then.
func (l *listener) handshake(c net.Conn) {
	defer l.wg.Done()
	defer func() { <-l.slots }()
	sc, err := serverHandshake(l.ctx, c, l.sec, l.cfg.HandshakeTimeout)
	if err != nil {
		if l.ctx.Err() != nil {
			return // closing
		}
		attrs := []slog.Attr{slog.String("purpose", l.sec.purpose), slog.String("remote", remote(c))}
		var he *handshakeError
		if errors.As(err, &he) {
			attrs = append(attrs, slog.String("reason", he.reason))
			if he.cause != nil {
				attrs = append(attrs, slog.String("error", he.cause.Error()))
			}
		} else {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		l.log.Log(slog.LevelWarn, "securenet: handshake refused", attrs...)
		return
	}
	select {
	case l.ready <- sc:
	case <-l.ctx.Done():
		sc.Close()
	}
}
