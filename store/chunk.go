package store

import (
	"encoding/hex"
	"fmt"

	"github.com/zeebo/blake3"
)

// ChunkID names a chunk by the BLAKE3-256 hash of its bytes.
type ChunkID [32]byte

// Sum returns the ChunkID of data.
func Sum(data []byte) ChunkID {
	return ChunkID(blake3.Sum256(data))
}

// IsZero reports whether id is the zero ID (used for "no chunk": a hole).
func (id ChunkID) IsZero() bool { return id == ChunkID{} }

// String is the lower-case hex form of id.
func (id ChunkID) String() string { return hex.EncodeToString(id[:]) }

// Key is the object key of the chunk in a backend: chunks/ab/cd/<hex>, so
// keys spread over directories and S3 prefixes.
func (id ChunkID) Key() string {
	s := id.String()
	return "chunks/" + s[0:2] + "/" + s[2:4] + "/" + s
}

// ParseChunkID parses the 64-character hex form of a chunk ID.
func ParseChunkID(s string) (ChunkID, error) {
	var id ChunkID
	if len(s) != 64 {
		return id, fmt.Errorf("chunk id %q: want 64 hex characters", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("chunk id %q: %v", s, err)
	}
	return id, nil
}

// Verify returns ErrCorrupt (wrapped) unless data hashes to id.
func Verify(id ChunkID, data []byte) error {
	if got := Sum(data); got != id {
		return fmt.Errorf("%w: chunk %s hashes to %s", ErrCorrupt, id, got)
	}
	return nil
}
