package securenet

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

var sizes = []int{0, 1, 2, 100, 4095, 4096, 4097, 64<<10 - 1, 64 << 10, 64<<10 + 1, 3*64<<10 + 5, 1 << 20, 1<<20 + 17}

func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}

// TestRoundTrip sends every size each way over one TCP connection, read
// with small and large buffers. A marker byte after each payload shows
// that an empty write sends nothing.
func TestRoundTrip(t *testing.T) {
	c, s := tcpPair(t)
	for i, n := range sizes {
		for _, chunk := range []int{1000, 1 << 20} {
			t.Run(fmt.Sprintf("%d/read%d", n, chunk), func(t *testing.T) {
				for dir, pair := range [][2]net.Conn{{c, s}, {s, c}} {
					w, r := pair[0], pair[1]
					want := append(randBytes(uint64(i*4+dir), n), '!')
					errc := make(chan error, 1)
					go func() {
						k, err := w.Write(want[:n])
						if err == nil && k != n {
							err = fmt.Errorf("wrote %d of %d", k, n)
						}
						if err == nil {
							_, err = w.Write(want[n:])
						}
						errc <- err
					}()
					got, err := readN(r, n+1, chunk)
					if err != nil {
						t.Fatalf("read: %v", err)
					}
					if err := <-errc; err != nil {
						t.Fatalf("write: %v", err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("direction %d: data differs", dir)
					}
				}
			})
		}
	}
}

// TestFrames checks the wire: how a write is split into frames and that
// each frame is one write to the underlying connection.
func TestFrames(t *testing.T) {
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			a, b := net.Pipe()
			rec := &recConn{Conn: a}
			cfg := testConfig("test")
			client, server, cerr, serr := handshakeOver(t, rec, b, testKey(1), testKey(1), cfg, cfg)
			if cerr != nil || serr != nil {
				t.Fatalf("handshake: %v, %v", cerr, serr)
			}
			rec.reset()
			done := make(chan []byte)
			go func() {
				got, _ := readN(server, n, n+1)
				done <- got
			}()
			if k, err := client.Write(randBytes(7, n)); err != nil || k != n {
				t.Fatalf("Write = %d, %v", k, err)
			}
			if got := <-done; !bytes.Equal(got, randBytes(7, n)) {
				t.Fatal("data differs")
			}
			wire, writes := rec.reset()
			frames := (n + MaxFramePlaintext - 1) / MaxFramePlaintext
			if writes != frames {
				t.Errorf("%d writes to the connection, want %d frames", writes, frames)
			}
			if want := n + frames*(lenSize+tagSize); len(wire) != want {
				t.Errorf("%d bytes on the wire, want %d", len(wire), want)
			}
			for i, rest := 0, wire; len(rest) > 0; i++ {
				size := int(binary.BigEndian.Uint32(rest))
				want := min(MaxFramePlaintext, n-i*MaxFramePlaintext) + tagSize
				if size != want {
					t.Fatalf("frame %d is %d bytes, want %d", i, size, want)
				}
				if pt := randBytes(7, n)[i*MaxFramePlaintext:]; len(pt) >= 16 && bytes.Contains(rest[4:4+size], pt[:16]) {
					t.Fatalf("frame %d carries plaintext", i)
				}
				rest = rest[4+size:]
			}
		})
	}
}

// TestFullDuplex writes both ways at once, in writes of random sizes, with
// concurrent readers (run it with -race).
func TestFullDuplex(t *testing.T) {
	c, s := tcpPair(t)
	const total = 8 << 20
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	sum := func(seed uint64) [32]byte { return sha256.Sum256(randBytes(seed, total)) }
	for i, pair := range [][2]net.Conn{{c, s}, {s, c}} {
		w, r := pair[0], pair[1]
		seed := uint64(100 + i)
		wg.Add(2)
		go func() {
			defer wg.Done()
			data := randBytes(seed, total)
			rng := rand.New(rand.NewPCG(seed, 1))
			for len(data) > 0 {
				n := min(len(data), rng.IntN(200<<10))
				if _, err := w.Write(data[:n]); err != nil {
					errs <- fmt.Errorf("write: %w", err)
					return
				}
				data = data[n:]
			}
		}()
		go func() {
			defer wg.Done()
			h := sha256.New()
			if _, err := io.CopyN(h, r, total); err != nil {
				errs <- fmt.Errorf("read: %w", err)
				return
			}
			if [32]byte(h.Sum(nil)) != sum(seed) {
				errs <- errors.New("data differs")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// tamperProxy relays a connection between client and server and lets
// mutate rewrite the client's first three frames (the server's direction
// is relayed as is).
func tamperProxy(t *testing.T, mutate func(frames [][]byte) []byte) (server net.Conn) {
	t.Helper()
	cA, pA := net.Pipe() // client — proxy
	pB, sB := net.Pipe() // proxy — server
	cfg := testConfig("test")
	go io.Copy(pA, pB)
	go func() {
		defer pB.Close()
		// The ClientHello, then the ClientProof, as they come.
		for _, n := range []int{clientHelloFixed + len(cfg.Purpose) + nonceSize, proofSize} {
			if _, err := io.CopyN(pB, pA, int64(n)); err != nil {
				return
			}
		}
		var frames [][]byte
		for range 3 {
			var hdr [4]byte
			if _, err := io.ReadFull(pA, hdr[:]); err != nil {
				return
			}
			f := make([]byte, 4+binary.BigEndian.Uint32(hdr[:]))
			copy(f, hdr[:])
			if _, err := io.ReadFull(pA, f[4:]); err != nil {
				return
			}
			frames = append(frames, f)
		}
		pB.Write(mutate(frames))
	}()
	client, server, cerr, serr := handshakeOver(t, cA, sB, testKey(1), testKey(1), cfg, cfg)
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: %v, %v", cerr, serr)
	}
	go func() {
		for i := range 3 {
			if _, err := fmt.Fprintf(client, "frame-%d", i); err != nil {
				return
			}
		}
	}()
	return server
}

func TestTamper(t *testing.T) {
	join := func(fs ...[]byte) []byte { return bytes.Join(fs, nil) }
	tests := []struct {
		name   string
		mutate func(f [][]byte) []byte
		want   error
	}{
		{"ciphertext bit", func(f [][]byte) []byte { f[1][6] ^= 1; return join(f...) }, ErrBadFrame},
		{"tag bit", func(f [][]byte) []byte { f[1][len(f[1])-1] ^= 0x80; return join(f...) }, ErrBadFrame},
		{"length bit", func(f [][]byte) []byte { f[1][3] ^= 1; return join(f...) }, ErrBadFrame},
		{"length too large", func(f [][]byte) []byte { f[1][1] = 0x7f; return join(f...) }, ErrBadFrame},
		{"length too small", func(f [][]byte) []byte { f[1][3] = tagSize - 1; return join(f...) }, ErrBadFrame},
		{"dropped frame", func(f [][]byte) []byte { return join(f[0], f[2]) }, ErrBadFrame},
		{"replayed frame", func(f [][]byte) []byte { return join(f[0], f[0], f[1]) }, ErrBadFrame},
		{"reordered frames", func(f [][]byte) []byte { return join(f[0], f[2], f[1]) }, ErrBadFrame},
		{"cut frame", func(f [][]byte) []byte { return join(f[0], f[1][:len(f[1])/2]) }, io.ErrUnexpectedEOF},
		{"cut header", func(f [][]byte) []byte { return join(f[0], f[1][:2]) }, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := tamperProxy(t, tt.mutate)
			got, err := io.ReadAll(server)
			if string(got) != "frame-0" {
				t.Errorf("read %q before the error, want %q", got, "frame-0")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("read error %v, want %v", err, tt.want)
			}
			if _, err2 := server.Read(make([]byte, 10)); !errors.Is(err2, tt.want) {
				t.Errorf("the next Read returned %v, want the same error", err2)
			}
			if tt.want == ErrBadFrame {
				if _, err := server.Write([]byte("x")); err == nil {
					t.Error("the connection is still open after a bad frame")
				}
			}
		})
	}
}

// TestReadResumesAfterTimeout cuts a frame in two around a read timeout:
// the next Read must resume the frame.
func TestReadResumesAfterTimeout(t *testing.T) {
	rawC, rawS := net.Pipe()
	key := testKey(5)
	server := newConn(rawS, key, key)
	defer server.Close()
	msg := []byte("hello, resumed frame")
	var wire bytes.Buffer
	if _, err := newConn(writerConn{&wire}, key, key).Write(msg); err != nil {
		t.Fatal(err)
	}
	half := make(chan struct{})
	go func() {
		rawC.Write(wire.Bytes()[:7])
		close(half)
	}()
	res := make(chan error, 1)
	go func() {
		_, err := server.Read(make([]byte, 100))
		res <- err
	}()
	<-half // the reader holds 7 bytes of the frame
	server.SetReadDeadline(time.Now())
	if err := <-res; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read after the deadline: %v, want a timeout", err)
	}
	server.SetReadDeadline(time.Now().Add(testDeadline))
	go rawC.Write(wire.Bytes()[7:])
	got := make([]byte, 100)
	n, err := server.Read(got)
	if err != nil || string(got[:n]) != string(msg) {
		t.Fatalf("Read = %q, %v; want %q", got[:n], err, msg)
	}
}

// writerConn is a net.Conn whose writes go to w.
type writerConn struct{ w io.Writer }

func (c writerConn) Read(b []byte) (int, error)         { return 0, io.EOF }
func (c writerConn) Write(b []byte) (int, error)        { return c.w.Write(b) }
func (c writerConn) Close() error                       { return nil }
func (c writerConn) LocalAddr() net.Addr                { return fakeAddr{} }
func (c writerConn) RemoteAddr() net.Addr               { return fakeAddr{} }
func (c writerConn) SetDeadline(t time.Time) error      { return nil }
func (c writerConn) SetReadDeadline(t time.Time) error  { return nil }
func (c writerConn) SetWriteDeadline(t time.Time) error { return nil }

func TestCounterExhausted(t *testing.T) {
	client, server, _, _ := pipePair(t)
	client.(*conn).wseq = math.MaxUint64 - 1
	server.(*conn).rseq = math.MaxUint64 - 1
	go client.Write([]byte("last"))
	if got, err := readN(server, 4, 4); err != nil || string(got) != "last" {
		t.Fatalf("last frame: %q, %v", got, err)
	}
	if _, err := client.Write([]byte("one too many")); !errors.Is(err, ErrExhausted) {
		t.Fatalf("Write beyond the counter: %v, want ErrExhausted", err)
	}
	if _, err := server.Read(make([]byte, 10)); err != io.EOF {
		t.Fatalf("peer reads %v, want io.EOF (the connection closed)", err)
	}

	client, server, _, _ = pipePair(t)
	server.(*conn).rseq = math.MaxUint64
	go client.Write([]byte("x"))
	if _, err := server.Read(make([]byte, 10)); !errors.Is(err, ErrExhausted) {
		t.Fatalf("Read beyond the counter: %v, want ErrExhausted", err)
	}
}

func TestConnBasics(t *testing.T) {
	c, s := tcpPair(t)
	raw := c.(*conn).raw
	if c.LocalAddr() != raw.LocalAddr() || c.RemoteAddr() != raw.RemoteAddr() {
		t.Error("addresses are not the underlying connection's")
	}
	if n, err := c.Write(nil); n != 0 || err != nil {
		t.Errorf("Write(nil) = %d, %v", n, err)
	}
	if n, err := s.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v", n, err)
	}
	// Deadlines reach the underlying connection.
	s.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read past the read deadline: %v", err)
	}
	s.SetDeadline(time.Time{})
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Write past the write deadline: %v", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Write after a failed Write: %v, want the same error", err)
	}
	// Close is idempotent and unblocks a Read.
	res := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 1))
		res <- err
	}()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := <-res; err == nil {
		t.Fatal("Read blocked across Close returned no error")
	}
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

// TestBuffersLeftover reads a frame one byte at a time.
func TestBuffersLeftover(t *testing.T) {
	client, server, _, _ := pipePair(t)
	go client.Write([]byte("abcdef"))
	got, err := readN(server, 6, 1)
	if err != nil || string(got) != "abcdef" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// TestSteadyStateAllocs: once the buffers exist, a write and a read
// allocate nothing.
func TestSteadyStateAllocs(t *testing.T) {
	c, s := tcpPair(t)
	msg := randBytes(9, 100<<10)
	buf := make([]byte, len(msg))
	round := func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(s, buf); err != nil {
			t.Fatal(err)
		}
	}
	round()
	if a := testing.AllocsPerRun(50, round); a > 0 {
		t.Errorf("%v allocations per 100 KiB round trip, want 0", a)
	}
}
