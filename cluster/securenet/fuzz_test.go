package securenet

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// FuzzServerHandshake feeds arbitrary bytes as all a client sends: the
// server never panics and, not knowing the server's nonce in advance, no
// input completes the handshake.
func FuzzServerHandshake(f *testing.F) {
	hello := func(purpose string) []byte {
		b := append([]byte(magic), version, byte(len(purpose)))
		b = append(b, purpose...)
		return append(b, make([]byte, nonceSize)...)
	}
	f.Add([]byte{})
	f.Add([]byte("DFSS"))
	f.Add(hello("raft"))
	f.Add(append(hello("raft"), make([]byte, proofSize)...))
	f.Add(append(hello("raft"), bytes.Repeat([]byte{0xff}, 100)...))
	f.Add(hello("other"))
	f.Add(hello(""))
	f.Add(append([]byte("DFSS\x01\xff"), bytes.Repeat([]byte("x"), 300)...))
	f.Add(append([]byte("DFSS\x02"), hello("raft")[5:]...))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	sec := newSecrets(testKey(1), "raft")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := serverHandshake(context.Background(), &fakeConn{r: bytes.NewReader(data)}, sec, DefaultHandshakeTimeout)
		if err == nil {
			c.Close()
			t.Fatal("the handshake succeeded")
		}
		if !errors.Is(err, ErrHandshake) {
			t.Fatalf("error %v does not wrap ErrHandshake", err)
		}
	})
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	data []byte
	n    int
}

func (r *chunkReader) Read(b []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	k := copy(b[:min(len(b), r.n)], r.data)
	r.data = r.data[k:]
	return k, nil
}

// parseFrames is a plain reference decoder of a stream of frames: the
// plaintext of the valid frames at its head, and the error after them.
func parseFrames(key, data []byte) ([]byte, error) {
	g := newGCM(key)
	var out []byte
	var nonce [12]byte
	for seq := uint64(0); ; seq++ {
		switch {
		case len(data) == 0:
			return out, io.EOF
		case len(data) < 4:
			return out, io.ErrUnexpectedEOF
		}
		size := int(binary.BigEndian.Uint32(data))
		switch {
		case size < 16 || size > 64<<10+16:
			return out, ErrBadFrame
		case len(data) < 4+size:
			return out, io.ErrUnexpectedEOF
		}
		binary.BigEndian.PutUint64(nonce[4:], seq)
		pt, err := g.Open(nil, nonce[:], data[4:4+size], nil)
		if err != nil {
			return out, ErrBadFrame
		}
		out = append(out, pt...)
		data = data[4+size:]
	}
}

// sealFrames returns the frames Write sends for each message, one after
// the other on one connection.
func sealFrames(key []byte, msgs ...[]byte) []byte {
	var wire bytes.Buffer
	w := newConn(writerConn{&wire}, key, key)
	for _, m := range msgs {
		w.Write(m)
	}
	return wire.Bytes()
}

// FuzzFrames feeds arbitrary bytes as the frames a connection receives,
// in reads of arbitrary sizes, read with buffers of arbitrary sizes: Read
// never panics and returns exactly what the reference decoder returns,
// then its error.
func FuzzFrames(f *testing.F) {
	key := testKey(3)
	empty := append([]byte{0, 0, 0, 16}, newGCM(key).Seal(nil, make([]byte, 12), nil, nil)...)
	seeds := [][]byte{
		{},
		{0, 0, 0},
		{0, 0, 0, 15},
		{0xff, 0xff, 0xff, 0xff},
		{0, 1, 0, 16},
		{0, 1, 0, 17},
		sealFrames(key, []byte("hello")),
		sealFrames(key, []byte("a"), []byte("bc"), []byte("def")),
		sealFrames(key, []byte("hello"))[:10],
		empty,
		append(empty[:len(empty):len(empty)], 0, 0, 0, 16),
	}
	for i, s := range seeds {
		f.Add(uint8(i*7+1), uint16(i*100+1), s)
	}
	f.Fuzz(func(t *testing.T, chunk uint8, bufSize uint16, data []byte) {
		c := newConn(&fakeConn{r: &chunkReader{data: data, n: int(chunk) + 1}}, key, key)
		want, wantErr := parseFrames(key, data)
		var got []byte
		buf := make([]byte, int(bufSize)+1)
		var err error
		for err == nil && len(got) <= len(want) {
			var n int
			n, err = c.Read(buf)
			got = append(got, buf[:n]...)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("read %d bytes %q, want %d bytes %q", len(got), got, len(want), want)
		}
		if !errors.Is(err, wantErr) {
			t.Fatalf("error %v, want %v", err, wantErr)
		}
	})
}
