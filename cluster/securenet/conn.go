package securenet

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Framing; see the package doc.
const (
	// MaxFramePlaintext is the most plaintext in one frame; a larger Write
	// is split.
	MaxFramePlaintext = 64 << 10
	lenSize           = 4
	tagSize           = 16
	maxSealed         = MaxFramePlaintext + tagSize
	maxWire           = lenSize + maxSealed

	// Buffers start small (Raft's heartbeats are small) and grow to
	// their largest size when a large frame comes.
	smallBuf = 4 << 10
	// readBufSize holds a largest frame and some read-ahead.
	readBufSize = maxWire + 16<<10
)

// conn is a secure connection: frames sealed with AES-256-GCM over raw.
// One goroutine may read while another writes (each direction has its
// own lock, so more are safe too, if pointless).
type conn struct {
	raw       net.Conn
	closed    atomic.Bool
	closeOnce sync.Once

	rmu  sync.Mutex
	rd   cipher.AEAD
	rseq uint64
	// rbuf[rpos:rend] are bytes received and not yet parsed; plain is
	// the unread plaintext of the last frame, inside rbuf before rpos.
	rbuf       []byte
	rpos, rend int
	plain      []byte
	rnonce     [12]byte
	rerr       error // sticky: EOF, a bad frame

	wmu    sync.Mutex
	wr     cipher.AEAD
	wseq   uint64
	wbuf   []byte
	wnonce [12]byte
	werr   error // sticky: once a frame is cut, the stream is lost
}

var _ net.Conn = (*conn)(nil)

func newConn(raw net.Conn, sendKey, recvKey []byte) *conn {
	return &conn{raw: raw, wr: newGCM(sendKey), rd: newGCM(recvKey)}
}

func newGCM(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic("securenet: " + err.Error()) // keys are always 32 bytes
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic("securenet: " + err.Error())
	}
	return g
}

// Read reads plaintext. The rest of a frame larger than b is kept for the
// next calls. It returns io.EOF when the peer closed the connection at a
// frame boundary, io.ErrUnexpectedEOF inside a frame, and an error
// wrapping ErrBadFrame (after closing the connection) when a frame fails
// authentication; these errors are sticky. A timeout (from a deadline) is
// not: the part of a frame already received is kept and a later Read
// resumes.
func (c *conn) Read(b []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rerr == nil && c.closed.Load() {
		return 0, net.ErrClosed
	}
	if len(c.plain) > 0 {
		n := copy(b, c.plain)
		c.plain = c.plain[n:]
		return n, nil
	}
	if c.rerr != nil {
		return 0, c.rerr
	}
	if len(b) == 0 {
		return 0, nil
	}
	for {
		if err := c.fill(lenSize); err != nil {
			return 0, err
		}
		size := int(binary.BigEndian.Uint32(c.rbuf[c.rpos:]))
		if size < tagSize || size > maxSealed {
			return 0, c.fatal(fmt.Errorf("%w: frame %d from %s is %d bytes long, outside [%d, %d]",
				ErrBadFrame, c.rseq, remote(c.raw), size, tagSize, maxSealed))
		}
		if err := c.fill(lenSize + size); err != nil {
			return 0, err
		}
		if c.rseq == math.MaxUint64 {
			return 0, c.fatal(fmt.Errorf("%w: receiving from %s", ErrExhausted, remote(c.raw)))
		}
		binary.BigEndian.PutUint64(c.rnonce[4:], c.rseq)
		sealed := c.rbuf[c.rpos+lenSize : c.rpos+lenSize+size]
		pt, err := c.rd.Open(sealed[:0], c.rnonce[:], sealed, nil)
		if err != nil {
			return 0, c.fatal(fmt.Errorf("%w: frame %d from %s", ErrBadFrame, c.rseq, remote(c.raw)))
		}
		c.rseq++
		c.rpos += lenSize + size
		if len(pt) == 0 {
			continue
		}
		n := copy(b, pt)
		c.plain = pt[n:]
		return n, nil
	}
}

// fill reads until rbuf[rpos:rend] holds at least n bytes. It reads
// ahead as far as the buffer allows. c.plain must be empty.
func (c *conn) fill(n int) error {
	if c.rend-c.rpos >= n {
		return nil
	}
	if len(c.rbuf)-c.rpos < n {
		buf := c.rbuf
		if len(buf) < n {
			size := smallBuf
			if n > smallBuf {
				size = readBufSize
			}
			buf = make([]byte, size)
		}
		c.rend = copy(buf, c.rbuf[c.rpos:c.rend])
		c.rpos = 0
		c.rbuf = buf
	}
	for c.rend-c.rpos < n {
		k, err := c.raw.Read(c.rbuf[c.rend:])
		c.rend += k
		if err == nil {
			continue
		}
		if c.rend-c.rpos >= n {
			return nil
		}
		if errors.Is(err, io.EOF) {
			if c.rend == c.rpos {
				c.rerr = io.EOF
			} else {
				c.rerr = io.ErrUnexpectedEOF
			}
			return c.rerr
		}
		return err
	}
	return nil
}

// fatal records err as the sticky read error and closes the connection.
func (c *conn) fatal(err error) error {
	c.rerr = err
	c.Close()
	return err
}

// Write seals b in frames of at most MaxFramePlaintext bytes and sends
// them, one write to the underlying connection each. Writing nothing
// sends nothing. Once a write fails the stream is lost (a frame may have
// been cut): every later Write returns the same error.
func (c *conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	if c.werr != nil {
		return 0, c.werr
	}
	n := 0
	for len(b) > 0 {
		chunk := b[:min(len(b), MaxFramePlaintext)]
		if c.wseq == math.MaxUint64 {
			c.werr = fmt.Errorf("%w: sending to %s", ErrExhausted, remote(c.raw))
			c.Close()
			return n, c.werr
		}
		need := lenSize + len(chunk) + tagSize
		if len(c.wbuf) < need {
			size := smallBuf
			if need > smallBuf {
				size = maxWire
			}
			c.wbuf = make([]byte, size)
		}
		binary.BigEndian.PutUint64(c.wnonce[4:], c.wseq)
		c.wseq++
		sealed := c.wr.Seal(c.wbuf[lenSize:lenSize], c.wnonce[:], chunk, nil)
		binary.BigEndian.PutUint32(c.wbuf, uint32(len(sealed)))
		if _, err := c.raw.Write(c.wbuf[:lenSize+len(sealed)]); err != nil {
			c.werr = err
			return n, err
		}
		n += len(chunk)
		b = b[len(chunk):]
	}
	return n, nil
}

// Close closes the underlying connection, which unblocks a Read or Write
// in progress. Later calls do nothing and return nil.
func (c *conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		err = c.raw.Close()
	})
	return err
}

// LocalAddr returns the underlying connection's local address.
func (c *conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr returns the underlying connection's remote address.
func (c *conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline sets the underlying connection's deadlines.
func (c *conn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline sets the underlying connection's read deadline.
func (c *conn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline sets the underlying connection's write deadline. A
// write that times out loses the stream for writing (see Write).
func (c *conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }
