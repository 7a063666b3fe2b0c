package cluster

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// logBridge is the io.Writer behind memberlist's *log.Logger. It maps
// memberlist's "[DEBUG]", "[INFO]", "[WARN]", "[ERR]" prefixes to slog
// levels, and recognises two kinds of lines:
//
//   - decryption failures on gossip from another node ("from=ADDR"), which
//     mean the cluster keys differ: logged as one clear warning per remote
//     host (at most every keyWarnEvery), the raw line at debug level;
//   - "Suspect X has failed, no acks received": a probe from this node
//     failed, the only sign of suspicion memberlist gives (see doc.go).
//
// Write is called by memberlist's goroutines (log.Logger serialises the
// calls); it never blocks on the node: suspicion goes through the node's
// non-blocking push.
type logBridge struct {
	log     *slog.Logger
	suspect func(name string)

	mu       sync.Mutex
	keyWarns map[string]time.Time // remote host -> last key warning
}

const keyWarnEvery = 30 * time.Second

var keyErrorTexts = []string{
	"no installed keys could decrypt",
	"remote state is encrypted and encryption is not configured",
	"encryption is configured but remote state is not encrypted",
}

// isKeyError reports whether a memberlist error text means the other side
// uses another key (or none).
func isKeyError(s string) bool {
	s = strings.ToLower(s)
	for _, t := range keyErrorTexts {
		if strings.Contains(s, t) {
			return true
		}
	}
	return false
}

func (b *logBridge) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\r\n")
	level := slog.LevelInfo
	for _, pl := range []struct {
		prefix string
		level  slog.Level
	}{
		{"[DEBUG] ", slog.LevelDebug},
		{"[INFO] ", slog.LevelInfo},
		{"[WARN] ", slog.LevelWarn},
		{"[ERR] ", slog.LevelError},
		{"[ERROR] ", slog.LevelError},
		{"Err: ", slog.LevelError},
	} {
		if rest, ok := strings.CutPrefix(line, pl.prefix); ok {
			line, level = rest, pl.level
			break
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")

	if isKeyError(line) {
		// Inbound traffic carries "from=ADDR"; our own failed join does not
		// (Run reports that one).
		if strings.Contains(line, "from=") {
			from := fromAddr(line)
			if b.shouldWarnKey(from) {
				b.log.Warn("rejected gossip from another node: the cluster key differs", "from", from)
			}
		}
		level = slog.LevelDebug
	} else if rest, ok := strings.CutPrefix(line, "Suspect "); ok {
		if name, _, ok := strings.Cut(rest, " has failed"); ok && b.suspect != nil {
			b.suspect(name)
		}
	}
	b.log.Log(context.Background(), level, line, "component", "memberlist")
	return len(p), nil
}

func (b *logBridge) shouldWarnKey(from string) bool {
	host := from
	if i := strings.LastIndexByte(from, ':'); i >= 0 {
		host = from[:i]
	}
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.keyWarns == nil {
		b.keyWarns = make(map[string]time.Time)
	}
	if t, ok := b.keyWarns[host]; ok && now.Sub(t) < keyWarnEvery {
		return false
	}
	if len(b.keyWarns) > 1024 { // bound the memory a noisy network can take
		clear(b.keyWarns)
	}
	b.keyWarns[host] = now
	return true
}

// fromAddr extracts memberlist's "from=ADDR" annotation.
func fromAddr(line string) string {
	i := strings.LastIndex(line, "from=")
	if i < 0 {
		return "unknown"
	}
	f := line[i+len("from="):]
	if j := strings.IndexByte(f, ' '); j >= 0 {
		f = f[:j]
	}
	return f
}
