// Package wire holds what cluster's compact binary encodings share (node
// metadata in gossip, the placement layout): a decoder of bytes,
// length-prefixed strings and minimal uvarints that never panics, and
// the rules for node names and printable text.
package wire

import (
	"encoding/binary"
	"errors"
)

// ErrShort is the decoder's error for input that ends too soon.
var ErrShort = errors.New("truncated")

// AppendString appends s with a one-byte length (s is at most 255 bytes:
// the callers' limits are lower).
func AppendString(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// Decoder reads from B; the first error sticks in Err and later reads
// return zero values.
type Decoder struct {
	B   []byte
	Err error
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if d.Err != nil {
		return 0
	}
	if len(d.B) < 1 {
		d.Err = ErrShort
		return 0
	}
	c := d.B[0]
	d.B = d.B[1:]
	return c
}

// String reads a string with a one-byte length.
func (d *Decoder) String() string {
	n := int(d.Byte())
	if d.Err != nil {
		return ""
	}
	if len(d.B) < n {
		d.Err = ErrShort
		return ""
	}
	s := string(d.B[:n])
	d.B = d.B[n:]
	return s
}

// Uvarint reads a minimally encoded uvarint.
func (d *Decoder) Uvarint() uint64 {
	if d.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.B)
	switch {
	case n == 0:
		d.Err = ErrShort
		return 0
	case n < 0:
		d.Err = errors.New("varint overflows 64 bits")
		return 0
	case n > 1 && d.B[n-1] == 0:
		d.Err = errors.New("overlong varint")
		return 0
	}
	d.B = d.B[n:]
	return v
}

// ValidName reports whether s is a node name: 1 to max bytes of
// [A-Za-z0-9._-].
func ValidName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// ValidText accepts printable ASCII (no control bytes, no UTF-8), which
// keeps log lines and status output safe.
func ValidText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
