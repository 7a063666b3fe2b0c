package securenet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// silentClient opens a TCP connection to addr and sends nothing.
func silentClient(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the peer closes c within d.
func closedWithin(c net.Conn, d time.Duration) error {
	c.SetReadDeadline(time.Now().Add(d))
	n, err := c.Read(make([]byte, 1))
	if err == nil {
		return fmt.Errorf("read %d bytes", n)
	}
	if errors.Is(err, errDeadline) {
		return fmt.Errorf("still open after %v", d)
	}
	return nil // EOF or reset
}

// TestSilentClient: a client that sends nothing does not hold up Accept
// for others, and is dropped after the handshake timeout.
func TestSilentClient(t *testing.T) {
	key := testKey(1)
	cfg := testConfig("raft")
	cfg.HandshakeTimeout = time.Second
	l, logs := listen(t, key, cfg)
	ch := acceptAsync(l)

	start := time.Now()
	silent := silentClient(t, l.Addr().String())
	good, err := Dial(context.Background(), l.Addr().String(), key, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	s := waitAccept(t, ch)
	if s.RemoteAddr().String() != good.LocalAddr().String() {
		t.Fatalf("Accept returned %v, not the good client %v", s.RemoteAddr(), good.LocalAddr())
	}
	if d := time.Since(start); d >= cfg.HandshakeTimeout {
		t.Fatalf("the good client waited %v, as long as the silent one's timeout", d)
	}

	if err := closedWithin(silent, 10*time.Second); err != nil {
		t.Fatalf("silent client: %v", err)
	}
	if d := time.Since(start); d < cfg.HandshakeTimeout {
		t.Errorf("silent client dropped after %v, before the timeout of %v", d, cfg.HandshakeTimeout)
	}
	logs.waitLog(t, "handshake refused", "remote="+silent.LocalAddr().String(), "no answer within 1s")
}

// TestMaxHandshakes: beyond the bound, connections are refused at once.
func TestMaxHandshakes(t *testing.T) {
	key := testKey(1)
	cfg := testConfig("raft")
	cfg.MaxHandshakes = 2
	cfg.HandshakeTimeout = 30 * time.Second
	l, logs := listen(t, key, cfg)
	addr := l.Addr().String()

	silent := []net.Conn{silentClient(t, addr), silentClient(t, addr)}
	third := silentClient(t, addr)
	if err := closedWithin(third, 10*time.Second); err != nil {
		t.Fatalf("third connection: %v", err)
	}
	logs.waitLog(t, "too many handshakes", "remote="+third.LocalAddr().String(), "limit=2")
	for i, c := range silent {
		if err := closedWithin(c, 50*time.Millisecond); err == nil {
			t.Errorf("silent connection %d was closed", i)
		}
	}

	// Close aborts the handshakes at once.
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %v", d)
	}
	for i, c := range silent {
		if err := closedWithin(c, 10*time.Second); err != nil {
			t.Errorf("silent connection %d after Close: %v", i, err)
		}
	}
}

// TestListenerClose: Close unblocks Accept, and Accept keeps failing.
func TestListenerClose(t *testing.T) {
	l, _ := listen(t, testKey(1), testConfig("raft"))
	ch := acceptAsync(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ch:
		if !errors.Is(r.err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, %v", r.c, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock Accept")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Accept: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Error("the port still accepts connections")
	}
}

// TestListenerUndelivered: a connection that finished its handshake but
// was never accepted is closed by Close.
func TestListenerUndelivered(t *testing.T) {
	key := testKey(1)
	cfg := testConfig("raft")
	l, _ := listen(t, key, cfg)
	c, err := Dial(context.Background(), l.Addr().String(), key, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l.Close()
	// EOF, or a reset if Close cut the handshake before the proof was read.
	if err := closedWithin(c, 10*time.Second); err != nil {
		t.Fatalf("a connection never accepted: %v", err)
	}
}

// TestInnerClosed: when the inner listener is closed under it, Accept
// returns that error rather than blocking.
func TestInnerClosed(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewListener(inner, testKey(1), testConfig("raft"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	inner.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept: %v", err)
	}
}

// TestManyClients handshakes many clients at once.
func TestManyClients(t *testing.T) {
	key := testKey(1)
	cfg := testConfig("raft")
	cfg.MaxHandshakes = 64
	cfg.HandshakeTimeout = 10 * time.Second
	l, _ := listen(t, key, cfg)
	const n = 40
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := Dial(context.Background(), l.Addr().String(), key, cfg)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(testDeadline))
			msg := fmt.Sprintf("client %d", i)
			io.WriteString(c, msg)
			got, err := readN(c, len(msg), 100)
			if err != nil || string(got) != msg {
				t.Errorf("echo: %q, %v", got, err)
			}
		})
	}
	wg.Wait()
}
