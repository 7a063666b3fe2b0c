package securenet

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"ok", Config{Purpose: "raft"}, ""},
		{"defaults", func() Config { c := DefaultConfig(); c.Purpose = "raft"; return c }(), ""},
		{"test defaults", testConfig("raft"), ""},
		{"no purpose", Config{}, "purpose must be 1 to 64"},
		{"long purpose", Config{Purpose: strings.Repeat("x", MaxPurpose+1)}, "purpose must be 1 to 64"},
		{"longest purpose", Config{Purpose: strings.Repeat("x", MaxPurpose)}, ""},
		{"control character", Config{Purpose: "raft\n"}, "printable ASCII"},
		{"non-ASCII", Config{Purpose: "räft"}, "printable ASCII"},
		{"negative timeout", Config{Purpose: "raft", HandshakeTimeout: -1}, "timeout must not be negative"},
		{"negative max", Config{Purpose: "raft", MaxHandshakes: -1}, "max handshakes must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
			if tt.want == "" {
				return
			}
			// Every entry point refuses it, without touching the network.
			if _, err := Listen("127.0.0.1:0", testKey(1), tt.cfg); err == nil {
				t.Error("Listen accepted it")
			}
			if _, err := Dial(context.Background(), "127.0.0.1:1", testKey(1), tt.cfg); err == nil || errors.Is(err, ErrHandshake) {
				t.Errorf("Dial: %v", err)
			}
		})
	}
	a, _ := net.Pipe()
	if _, err := Client(context.Background(), a, make([]byte, 16), testConfig("raft")); err == nil || !strings.Contains(err.Error(), "must be 32 bytes") {
		t.Errorf("Client with a 16-byte key: %v", err)
	}
	if _, err := a.Write([]byte("x")); err == nil {
		t.Error("Client left the connection open after refusing its config")
	}
}

func TestConfigNotChanged(t *testing.T) {
	cfg := Config{Purpose: "raft"}
	l, err := Listen("127.0.0.1:0", testKey(1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if cfg != (Config{Purpose: "raft"}) {
		t.Errorf("Listen changed the caller's config: %+v", cfg)
	}
	if l.(*listener).cfg.HandshakeTimeout != DefaultHandshakeTimeout || l.(*listener).cfg.MaxHandshakes != DefaultMaxHandshakes {
		t.Errorf("zero values did not become the defaults: %+v", l.(*listener).cfg)
	}
}

// TestKeyCopied: changing the caller's key slice afterwards changes
// nothing.
func TestKeyCopied(t *testing.T) {
	key := testKey(1)
	cfg := testConfig("test")
	l, _ := listen(t, key, cfg)
	for i := range key {
		key[i] = 0
	}
	ch := acceptAsync(l)
	c, err := Dial(context.Background(), l.Addr().String(), testKey(1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitAccept(t, ch)
}

// TestWrongKey: both sides fail cleanly; the client says why, the
// listener logs it and delivers only the next, good connection.
func TestWrongKey(t *testing.T) {
	cfg := testConfig("raft")
	l, logs := listen(t, testKey(1), cfg)
	ch := acceptAsync(l)

	_, err := Dial(context.Background(), l.Addr().String(), testKey(2), cfg)
	if !errors.Is(err, ErrHandshake) {
		t.Fatalf("Dial with another key: %v, want ErrHandshake", err)
	}
	if !strings.Contains(err.Error(), "cluster key probably differs") {
		t.Errorf("error %q does not say the key probably differs", err)
	}
	logs.waitLog(t, "level=WARN", "handshake refused", "remote=127.0.0.1:", "purpose=raft", "its cluster key probably differs")

	good, err := Dial(context.Background(), l.Addr().String(), testKey(1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if s := waitAccept(t, ch); s.RemoteAddr().String() != good.LocalAddr().String() {
		t.Fatalf("Accept returned %v, not the good client %v", s.RemoteAddr(), good.LocalAddr())
	}
	assertNoKeyInLogs(t, logs.String(), testKey(1), testKey(2))
}

func assertNoKeyInLogs(t *testing.T, logs string, keys ...[]byte) {
	t.Helper()
	for _, k := range keys {
		for _, s := range []string{string(k), hex.EncodeToString(k), base64.StdEncoding.EncodeToString(k)} {
			if strings.Contains(logs, s) {
				t.Fatalf("the logs hold key material:\n%s", logs)
			}
		}
	}
}

// TestWrongKeyPipe: the server's error, as returned by Server, says the
// client's key probably differs.
func TestWrongKeyPipe(t *testing.T) {
	a, b := net.Pipe()
	cfg := testConfig("raft")
	_, _, cerr, serr := handshakeOver(t, a, b, testKey(1), testKey(2), cfg, cfg)
	if !errors.Is(cerr, ErrHandshake) || !strings.Contains(cerr.Error(), "the server's proof does not match") {
		t.Errorf("client: %v", cerr)
	}
	if !errors.Is(serr, ErrHandshake) || !strings.Contains(serr.Error(), "cluster key probably differs") {
		t.Errorf("server: %v", serr)
	}
}

func TestWrongPurpose(t *testing.T) {
	l, logs := listen(t, testKey(1), testConfig("raft"))
	_, err := Dial(context.Background(), l.Addr().String(), testKey(1), testConfig("other"))
	if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "another purpose") {
		t.Fatalf("Dial with another purpose: %v", err)
	}
	logs.waitLog(t, "handshake refused", `purpose is \"other\", not \"raft\"`)
}

// TestNotSecurenet: a client or a server speaking something else.
func TestNotSecurenet(t *testing.T) {
	l, logs := listen(t, testKey(1), testConfig("raft"))
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	io.WriteString(raw, "GET / HTTP/1.1\r\n\r\n")
	if err := closedWithin(raw, 10*time.Second); err != nil {
		t.Errorf("the server's answer to HTTP: %v", err)
	}
	logs.waitLog(t, "handshake refused", "bad magic")

	for _, tt := range []struct {
		name, answer, want string
	}{
		{"other protocol", strings.Repeat("HTTP/1.1 400 Bad Request\r\n", 4), "bad magic"},
		{"other version", "DFSS\x02" + strings.Repeat("x", serverHelloSize), "protocol version 2"},
		{"short answer", "DFSS\x01", "reading the server's hello"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := net.Pipe()
			go func() {
				io.ReadFull(b, make([]byte, clientHelloFixed+len("raft")+nonceSize))
				io.WriteString(b, tt.answer)
				b.Close()
			}()
			_, err := Client(context.Background(), a, testKey(1), testConfig("raft"))
			if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Client: %v, want %q", err, tt.want)
			}
		})
	}
}

// relay copies src to dst, recording what passes.
func relay(dst, src net.Conn, rec *bytes.Buffer, done chan<- struct{}) {
	io.Copy(io.MultiWriter(dst, rec), src)
	dst.Close()
	close(done)
}

// TestReplayedHandshake records a good session and replays either side
// of it: the fresh nonce of the other side makes the proof fail.
func TestReplayedHandshake(t *testing.T) {
	key := testKey(1)
	cfg := testConfig("raft")

	// Record a session: client ↔ relay ↔ server.
	cA, pA := net.Pipe()
	pB, sB := net.Pipe()
	var c2s, s2c bytes.Buffer
	d1, d2 := make(chan struct{}), make(chan struct{})
	go relay(pB, pA, &c2s, d1)
	go relay(pA, pB, &s2c, d2)
	client, server, cerr, serr := handshakeOver(t, cA, sB, key, key, cfg, cfg)
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: %v, %v", cerr, serr)
	}
	go io.WriteString(client, "replay me")
	if got, err := readN(server, 9, 9); err != nil || string(got) != "replay me" {
		t.Fatalf("recorded session: %q, %v", got, err)
	}
	client.Close()
	server.Close()
	<-d1
	<-d2

	t.Run("client side to a server", func(t *testing.T) {
		l, logs := listen(t, key, cfg)
		ch := acceptAsync(l)
		raw, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		hello := clientHelloFixed + len(cfg.Purpose) + nonceSize
		raw.Write(c2s.Bytes()[:hello])
		if _, err := io.ReadFull(raw, make([]byte, serverHelloSize)); err != nil {
			t.Fatalf("no server hello: %v", err)
		}
		raw.Write(c2s.Bytes()[hello:]) // the proof and the frames
		// EOF, or a reset as the server closed with the frames unread.
		if err := closedWithin(raw, 10*time.Second); err != nil {
			t.Fatalf("replayed handshake: %v", err)
		}
		logs.waitLog(t, "handshake refused", "the client's proof does not match")

		good, err := Dial(context.Background(), l.Addr().String(), key, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer good.Close()
		if s := waitAccept(t, ch); s.RemoteAddr().String() != good.LocalAddr().String() {
			t.Fatalf("Accept returned %v, not the good client %v", s.RemoteAddr(), good.LocalAddr())
		}
	})

	t.Run("server side to a client", func(t *testing.T) {
		a, b := net.Pipe()
		go func() {
			io.ReadFull(b, make([]byte, clientHelloFixed+len(cfg.Purpose)+nonceSize))
			b.Write(s2c.Bytes())
			b.Close()
		}()
		_, err := Client(context.Background(), a, key, cfg)
		if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "the server's proof does not match") {
			t.Fatalf("Client against a replayed server: %v", err)
		}
	})
}

// silentServer accepts TCP connections and never answers.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String()
}

func TestDialTimeouts(t *testing.T) {
	addr := silentServer(t)

	cfg := testConfig("raft")
	cfg.HandshakeTimeout = 200 * time.Millisecond
	start := time.Now()
	_, err := Dial(context.Background(), addr, testKey(1), cfg)
	if !errors.Is(err, ErrHandshake) || !errors.Is(err, errDeadline) || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("handshake timeout: %v", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Errorf("timed out after %v, want about 200ms", d)
	}

	cfg.HandshakeTimeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = Dial(ctx, addr, testKey(1), cfg)
	if !errors.Is(err, ErrHandshake) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("context deadline: %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = Dial(ctx, addr, testKey(1), cfg)
	if !errors.Is(err, ErrHandshake) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}
