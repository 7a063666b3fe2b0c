package securenet

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// KeySize is the size of the cluster key in bytes.
const KeySize = 32

// MaxPurpose is the longest Config.Purpose, in bytes.
const MaxPurpose = 64

// Defaults used for the zero values of Config's fields.
const (
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultMaxHandshakes    = 64
)

// Config configures Listen, NewListener, Dial, Client and Server. They
// copy it; the caller's value is never changed. Zero values of
// HandshakeTimeout and MaxHandshakes mean their defaults.
type Config struct {
	// Purpose separates the uses of one cluster key ("raft" for the Raft
	// transport): it is bound into every key derived, so a connection
	// made for one purpose cannot be used for another. Both ends must
	// use the same; it is sent in clear. 1 to MaxPurpose printable ASCII
	// characters.
	Purpose string
	// HandshakeTimeout bounds the whole handshake, from its first byte to
	// its last. Zero means DefaultHandshakeTimeout (5 s).
	HandshakeTimeout time.Duration
	// MaxHandshakes bounds, for a listener, the connections that are
	// being handshaken or are waiting for Accept; a connection accepted
	// beyond it is closed at once and logged. Zero means
	// DefaultMaxHandshakes (64).
	MaxHandshakes int
	// Logger receives a listener's warnings: refused handshakes (with the
	// remote address and the reason, never key material), refused
	// connections and accept errors, rate-limited. Nil discards them.
	Logger *slog.Logger
}

// DefaultConfig returns the production settings; Purpose must still be
// set.
func DefaultConfig() Config {
	return Config{
		HandshakeTimeout: DefaultHandshakeTimeout,
		MaxHandshakes:    DefaultMaxHandshakes,
	}
}

// DefaultTestConfig returns settings for tests: a short handshake timeout
// so that tests of silent peers end quickly. Purpose must still be set.
func DefaultTestConfig() Config {
	return Config{
		HandshakeTimeout: 500 * time.Millisecond,
		MaxHandshakes:    8,
	}
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	if c.Purpose == "" || len(c.Purpose) > MaxPurpose {
		return fmt.Errorf("purpose must be 1 to %d printable ASCII characters, not %d bytes", MaxPurpose, len(c.Purpose))
	}
	for i := 0; i < len(c.Purpose); i++ {
		if b := c.Purpose[i]; b < 0x20 || b > 0x7e {
			return fmt.Errorf("purpose must be printable ASCII; %q is not", c.Purpose)
		}
	}
	if c.HandshakeTimeout < 0 {
		return errors.New("handshake timeout must not be negative")
	}
	if c.MaxHandshakes < 0 {
		return errors.New("max handshakes must not be negative")
	}
	return nil
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.MaxHandshakes == 0 {
		c.MaxHandshakes = DefaultMaxHandshakes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// prepare validates key and cfg and derives the handshake secrets.
func prepare(key []byte, cfg Config) (*secrets, Config, error) {
	if err := cfg.Validate(); err != nil {
		return nil, cfg, fmt.Errorf("securenet: %w", err)
	}
	if len(key) != KeySize {
		return nil, cfg, fmt.Errorf("securenet: the cluster key must be %d bytes, not %d", KeySize, len(key))
	}
	return newSecrets(key, cfg.Purpose), cfg.withDefaults(), nil
}
