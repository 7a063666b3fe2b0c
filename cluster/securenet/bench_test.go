package securenet

import (
	"context"
	"net"
	"testing"
)

// drain reads everything from c with a 1 MiB buffer and reports how much.
func drain(c net.Conn) <-chan int64 {
	ch := make(chan int64, 1)
	go func() {
		var n int64
		buf := make([]byte, 1<<20)
		for {
			k, err := c.Read(buf)
			n += int64(k)
			if err != nil {
				ch <- n
				return
			}
		}
	}()
	return ch
}

func benchWrites(b *testing.B, w, r net.Conn) {
	msg := randBytes(1, 1<<20)
	done := drain(r)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := w.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	w.Close()
	if n := <-done; n != int64(b.N)*int64(len(msg)) {
		b.Fatalf("read %d bytes, wrote %d", n, int64(b.N)*int64(len(msg)))
	}
}

// BenchmarkThroughput writes 1 MiB at a time over loopback TCP.
func BenchmarkThroughput(b *testing.B) {
	c, s := tcpPairB(b)
	benchWrites(b, c, s)
}

// BenchmarkThroughputPlainTCP is the same without securenet, for
// comparison.
func BenchmarkThroughputPlainTCP(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	s := <-ch
	defer s.Close()
	benchWrites(b, c, s)
}

// BenchmarkHandshake measures a Dial and the matching Accept, handshake
// included, over loopback TCP.
func BenchmarkHandshake(b *testing.B) {
	key := testKey(1)
	cfg := testConfig("bench")
	l, err := Listen("127.0.0.1:0", key, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan error)
	go func() {
		for {
			c, err := l.Accept()
			if err == nil {
				c.Close()
			}
			accepted <- err
			if err != nil {
				return
			}
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		c, err := Dial(context.Background(), l.Addr().String(), key, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := <-accepted; err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

func tcpPairB(b *testing.B) (client, server net.Conn) {
	key := testKey(1)
	cfg := testConfig("bench")
	l, err := Listen("127.0.0.1:0", key, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		ch <- c
	}()
	client, err = Dial(context.Background(), l.Addr().String(), key, cfg)
	if err != nil {
		b.Fatal(err)
	}
	server = <-ch
	b.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}
