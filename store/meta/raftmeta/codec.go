package raftmeta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// ErrCorrupt is returned (wrapped) for a stored record that does not
// decode: a log entry of an unknown version, a truncated one, or a
// uint64 stable value that is not 8 bytes.
var ErrCorrupt = errors.New("raftmeta: corrupt record")

// logVersion is the first byte of every encoded log entry.
const logVersion = 1

// Keys: a one-byte prefix, then for log entries the index as a
// big-endian uint64 (so badger's key order is index order), for stable
// values raft's key as given.
const (
	pfxLog    = 'l'
	pfxStable = 's'
	logKeyLen = 1 + 8
)

func putLogKey(b []byte, index uint64) {
	b[0] = pfxLog
	binary.BigEndian.PutUint64(b[1:], index)
}

func logKey(index uint64) []byte {
	b := make([]byte, logKeyLen)
	putLogKey(b, index)
	return b
}

// logIndex returns the index in a log key.
func logIndex(key []byte) uint64 { return binary.BigEndian.Uint64(key[1:]) }

func stableKey(key []byte) []byte {
	return append([]byte{pfxStable}, key...)
}

// maxLogHeader bounds the encoded size of a log entry besides its
// Extensions and Data: version, type, term, appended-at and the
// Extensions length.
const maxLogHeader = 2 + 3*binary.MaxVarintLen64

// appendLog appends the encoding of l to b:
//
//	version   byte (logVersion)
//	type      byte (raft.LogType)
//	term      uvarint
//	appended  varint, Unix nanoseconds (0: the zero time)
//	extlen    uvarint
//	ext       extlen bytes
//	data      the rest
//
// The index is not stored: it is the key's.
func appendLog(b []byte, l *raft.Log) []byte {
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	b = append(b, logVersion, byte(l.Type))
	b = binary.AppendUvarint(b, l.Term)
	b = binary.AppendVarint(b, at)
	b = binary.AppendUvarint(b, uint64(len(l.Extensions)))
	b = append(b, l.Extensions...)
	return append(b, l.Data...)
}

// decodeLog decodes v, stored under index, into l. Data and Extensions
// are copied out of v (one allocation shared by both, each capped so an
// append to one cannot overwrite the other); empty ones are nil.
func decodeLog(index uint64, v []byte, l *raft.Log) error {
	bad := func(what string) error {
		return fmt.Errorf("%w: log entry %d: %s", ErrCorrupt, index, what)
	}
	if len(v) < 2 {
		return bad("truncated")
	}
	if v[0] != logVersion {
		return bad(fmt.Sprintf("unknown version %d", v[0]))
	}
	typ := raft.LogType(v[1])
	v = v[2:]
	term, n := binary.Uvarint(v)
	if n <= 0 {
		return bad("bad term")
	}
	v = v[n:]
	at, n := binary.Varint(v)
	if n <= 0 {
		return bad("bad time")
	}
	v = v[n:]
	extLen, n := binary.Uvarint(v)
	if n <= 0 || extLen > uint64(len(v)-n) {
		return bad("bad extensions length")
	}
	v = v[n:]
	*l = raft.Log{Index: index, Term: term, Type: typ}
	if at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	if len(v) > 0 {
		buf := make([]byte, len(v))
		copy(buf, v)
		if extLen > 0 {
			l.Extensions = buf[:extLen:extLen]
		}
		if int(extLen) < len(buf) {
			l.Data = buf[extLen:]
		}
	}
	return nil
}
