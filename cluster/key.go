package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the size of the cluster key in bytes (AES-256).
const KeySize = 32

// ErrKeyMismatch means a peer could not decrypt our gossip, or we could
// not decrypt its: the two nodes were given different cluster keys.
var ErrKeyMismatch = errors.New("the cluster key differs from the peer's")

// ErrKeyFilePermissions is returned (wrapped) by LoadKeyFile for a key file
// that group or others may read or write.
var ErrKeyFilePermissions = errors.New("key file is accessible to group or others")

// GenerateKey returns a new random cluster key.
func GenerateKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate cluster key: %w", err)
	}
	return k, nil
}

// EncodeKey returns the text form of a key, as written in a key file:
// standard base64 without a newline.
func EncodeKey(key []byte) string {
	return base64.StdEncoding.EncodeToString(key)
}

// DecodeKey parses the text form of a key; surrounding white space is
// ignored.
func DecodeKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("the cluster key is not valid base64")
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("the cluster key must be %d bytes, not %d", KeySize, len(k))
	}
	return k, nil
}

// LoadKeyFile reads a key file: the base64 of 32 random bytes (a trailing
// newline is fine).
//
// A key file that group or others can read or write (any of mode 0077) is
// refused with an error wrapping ErrKeyFilePermissions, the way ssh refuses
// an unprotected private key: a leaked cluster key lets anyone join the
// cluster and sign peer requests, so a warning that scrolls by is not
// enough. Fix it with chmod 600.
func LoadKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read cluster key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read cluster key: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read cluster key: %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("read cluster key: %s has mode %#o: %w (run chmod 600 %s)", path, perm, ErrKeyFilePermissions, path)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(ioLimit(f)); err != nil {
		return nil, fmt.Errorf("read cluster key: %w", err)
	}
	k, err := DecodeKey(buf.String())
	if err != nil {
		return nil, fmt.Errorf("read cluster key %s: %w", path, err)
	}
	return k, nil
}
