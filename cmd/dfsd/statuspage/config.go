package statuspage

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/dfsproject/dfs/cluster/control"
)

// Bounds of Config.Token.
const (
	MinTokenLen = 16
	MaxTokenLen = 256
)

// Config configures Handler.
type Config struct {
	// Source is what the page shows: its Status, asked once per
	// request for /ui/status.json.
	Source control.Source
	// Token, when set, lets other hosts than this one read the page (see
	// the package documentation): MinTokenLen to MaxTokenLen printable
	// ASCII characters, no spaces. Empty serves loopback only.
	Token string
	// Logger gets one line per refused request; nil discards.
	Logger *slog.Logger
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	if c.Source == nil {
		return errors.New("status page: a source is required")
	}
	if c.Token == "" {
		return nil
	}
	if len(c.Token) < MinTokenLen || len(c.Token) > MaxTokenLen {
		return fmt.Errorf("status page: the token must be %d to %d characters long, not %d (make one with: openssl rand -hex 16)",
			MinTokenLen, MaxTokenLen, len(c.Token))
	}
	for _, b := range []byte(c.Token) {
		if b <= ' ' || b > '~' {
			return errors.New("status page: the token must be printable ASCII characters without spaces")
		}
	}
	return nil
}
