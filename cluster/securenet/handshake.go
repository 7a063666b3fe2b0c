package securenet

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// Wire constants of protocol version 1; see the package doc.
const (
	magic     = "DFSS"
	version   = 1
	nonceSize = 32
	proofSize = sha256.Size

	// clientHelloFixed is the ClientHello without purpose and nonce:
	// magic, version, purpose length.
	clientHelloFixed = len(magic) + 2
	// serverHelloSize is the whole ServerHello: magic, version, nonce_s,
	// proof_s.
	serverHelloSize = len(magic) + 1 + nonceSize + proofSize

	labelAuth   = "dfs securenet auth"
	labelC2S    = "dfs securenet c2s"
	labelS2C    = "dfs securenet s2c"
	labelServer = "server"
	labelClient = "client"
)

// secrets holds a copy of the cluster key and what is derived from it
// once per purpose.
type secrets struct {
	key     []byte
	auth    []byte // K_auth
	purpose string
}

func newSecrets(key []byte, purpose string) *secrets {
	k := append([]byte(nil), key...)
	return &secrets{key: k, auth: derive(k, nil, labelAuth+purpose), purpose: purpose}
}

// derive is HKDF-SHA256 with a 32-byte output.
func derive(secret, salt []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, secret, salt, info, 32)
	if err != nil {
		// Only a key length beyond 255*32 bytes can fail.
		panic("securenet: hkdf: " + err.Error())
	}
	return k
}

// proof is HMAC-SHA256(K_auth, label || parts...).
func (s *secrets) proof(label string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, s.auth)
	io.WriteString(m, label)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// sessionKeys derives the two AES-256-GCM keys of a connection.
func (s *secrets) sessionKeys(nonceC, nonceS []byte) (c2s, s2c []byte) {
	salt := make([]byte, 0, 2*nonceSize)
	salt = append(append(salt, nonceC...), nonceS...)
	return derive(s.key, salt, labelC2S+s.purpose), derive(s.key, salt, labelS2C+s.purpose)
}

// Client runs the client side of the handshake on c, an established
// connection, and returns the secure connection over it. On failure it
// closes c and returns an error wrapping ErrHandshake (or a
// configuration error). The handshake ends at the earlier of ctx's
// deadline and cfg.HandshakeTimeout; cancelling ctx aborts it. Client
// sets and then clears c's deadline.
func Client(ctx context.Context, c net.Conn, key []byte, cfg Config) (net.Conn, error) {
	sec, cfg, err := prepare(key, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	return clientHandshake(ctx, c, sec, cfg.HandshakeTimeout)
}

// Server runs the server side of the handshake on c, an established
// connection, and returns the secure connection over it. On failure it
// closes c and returns an error wrapping ErrHandshake (or a
// configuration error) whose text gives the reason; Server does not log
// it (a listener does, rate-limited). Deadlines and ctx are as for
// Client.
func Server(ctx context.Context, c net.Conn, key []byte, cfg Config) (net.Conn, error) {
	sec, cfg, err := prepare(key, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	return serverHandshake(ctx, c, sec, cfg.HandshakeTimeout)
}

// handshake holds what both sides share while running one.
type handshake struct {
	ctx     context.Context
	c       net.Conn
	timeout time.Duration
	byCtx   bool // ctx's deadline comes before timeout
	stop    func() bool
}

// begin sets c's deadline and arms ctx's cancellation.
func (h *handshake) begin() error {
	if err := h.ctx.Err(); err != nil {
		return err
	}
	deadline := time.Now().Add(h.timeout)
	if d, ok := h.ctx.Deadline(); ok && d.Before(deadline) {
		deadline, h.byCtx = d, true
	}
	if err := h.c.SetDeadline(deadline); err != nil {
		return err
	}
	c := h.c
	h.stop = context.AfterFunc(h.ctx, func() {
		// Unblock the handshake's reads and writes at once.
		c.SetDeadline(time.Unix(1, 0))
	})
	return nil
}

// end disarms ctx and clears the deadline.
func (h *handshake) end() error {
	if !h.stop() {
		return h.ctx.Err()
	}
	return h.c.SetDeadline(time.Time{})
}

// fail closes the connection and builds the error. For a timeout or a
// cancellation, which the I/O error only reports as a passed deadline,
// the reason given is replaced by the real one.
func (h *handshake) fail(reason string, cause error) error {
	h.c.Close()
	if h.stop != nil {
		h.stop()
	}
	deadline := errors.Is(cause, os.ErrDeadlineExceeded)
	ctxErr := h.ctx.Err()
	switch {
	case ctxErr != nil && (deadline || errors.Is(cause, ctxErr)):
		reason, cause = "the context ended", ctxErr
	case deadline && h.byCtx:
		// The connection's deadline, the context's, passed just before
		// the context noticed.
		reason, cause = "the context ended", context.DeadlineExceeded
	case deadline:
		reason = fmt.Sprintf("no answer within %v", h.timeout)
	case errors.Is(cause, io.EOF) || errors.Is(cause, io.ErrUnexpectedEOF):
		cause = nil // the reason says it
	}
	return &handshakeError{peer: remote(h.c), reason: reason, cause: cause}
}

func remote(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil {
		return a.String()
	}
	return "?"
}

func clientHandshake(ctx context.Context, c net.Conn, sec *secrets, timeout time.Duration) (net.Conn, error) {
	h := &handshake{ctx: ctx, c: c, timeout: timeout}
	if err := h.begin(); err != nil {
		return nil, h.fail("starting", err)
	}

	// ClientHello and ServerHello, kept together: they are the transcript.
	p := sec.purpose
	n := clientHelloFixed + len(p) + nonceSize
	buf := make([]byte, n+serverHelloSize+proofSize)
	hello := buf[:n]
	copy(hello, magic)
	hello[4] = version
	hello[5] = byte(len(p))
	copy(hello[6:], p)
	nonceC := hello[n-nonceSize:]
	rand.Read(nonceC) // never fails (Go 1.24+)
	if _, err := c.Write(hello); err != nil {
		return nil, h.fail("sending the hello", err)
	}

	sh := buf[n : n+serverHelloSize]
	if k, err := io.ReadFull(c, sh); err != nil {
		if k == 0 && errors.Is(err, io.EOF) {
			return nil, h.fail("the server closed the connection without answering "+
				"(it may expect another purpose or protocol version, be overloaded, or not be a securenet server)", err)
		}
		return nil, h.fail("reading the server's hello", err)
	}
	if string(sh[:4]) != magic {
		return nil, h.fail("the server's hello is not securenet's (bad magic)", nil)
	}
	if sh[4] != version {
		return nil, h.fail(fmt.Sprintf("the server speaks protocol version %d, not %d", sh[4], version), nil)
	}
	nonceS := sh[5 : 5+nonceSize]
	proofS := sh[5+nonceSize:]
	transcript := buf[:n+5+nonceSize]
	if !hmac.Equal(proofS, sec.proof(labelServer, transcript)) {
		return nil, h.fail("the server's proof does not match: the cluster key probably differs", nil)
	}

	if _, err := c.Write(sec.proof(labelClient, transcript, proofS)); err != nil {
		return nil, h.fail("sending the proof", err)
	}
	if err := h.end(); err != nil {
		return nil, h.fail("finishing", err)
	}
	c2s, s2c := sec.sessionKeys(nonceC, nonceS)
	return newConn(c, c2s, s2c), nil
}

func serverHandshake(ctx context.Context, c net.Conn, sec *secrets, timeout time.Duration) (net.Conn, error) {
	h := &handshake{ctx: ctx, c: c, timeout: timeout}
	if err := h.begin(); err != nil {
		return nil, h.fail("starting", err)
	}

	// The longest transcript: a ClientHello with a 255-byte purpose.
	var arr [clientHelloFixed + 255 + nonceSize + serverHelloSize]byte
	buf := arr[:]
	if _, err := io.ReadFull(c, buf[:clientHelloFixed]); err != nil {
		return nil, h.fail("reading the client's hello", err)
	}
	if string(buf[:4]) != magic {
		return nil, h.fail("not a securenet client (bad magic)", nil)
	}
	if buf[4] != version {
		return nil, h.fail(fmt.Sprintf("the client speaks protocol version %d, not %d", buf[4], version), nil)
	}
	plen := int(buf[5])
	n := clientHelloFixed + plen + nonceSize
	if _, err := io.ReadFull(c, buf[clientHelloFixed:n]); err != nil {
		return nil, h.fail("reading the client's hello", err)
	}
	if p := buf[clientHelloFixed : clientHelloFixed+plen]; string(p) != sec.purpose {
		if len(p) > MaxPurpose {
			p = p[:MaxPurpose]
		}
		return nil, h.fail(fmt.Sprintf("the client's purpose is %q, not %q", p, sec.purpose), nil)
	}
	nonceC := buf[n-nonceSize : n]

	sh := buf[n : n+serverHelloSize]
	copy(sh, magic)
	sh[4] = version
	nonceS := sh[5 : 5+nonceSize]
	rand.Read(nonceS) // never fails (Go 1.24+)
	transcript := buf[:n+5+nonceSize]
	proofS := sec.proof(labelServer, transcript)
	copy(sh[5+nonceSize:], proofS)
	if _, err := c.Write(sh); err != nil {
		return nil, h.fail("sending the hello", err)
	}

	var proofC [proofSize]byte
	if k, err := io.ReadFull(c, proofC[:]); err != nil {
		if k == 0 && errors.Is(err, io.EOF) {
			return nil, h.fail("the client hung up instead of proving it holds the key "+
				"(its cluster key probably differs)", err)
		}
		return nil, h.fail("reading the client's proof", err)
	}
	if !hmac.Equal(proofC[:], sec.proof(labelClient, transcript, proofS)) {
		return nil, h.fail("the client's proof does not match: its cluster key probably differs, or it replays an old handshake", nil)
	}
	if err := h.end(); err != nil {
		return nil, h.fail("finishing", err)
	}
	c2s, s2c := sec.sessionKeys(nonceC, nonceS)
	return newConn(c, s2c, c2s), nil
}
