package alerts

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"
)

// Config configures a Manager. New copies it; the caller's value is never
// changed. Zero numeric fields take DefaultConfig's values.
type Config struct {
	// Cluster and Node name this cluster and this node; they fill
	// Event.Cluster and Event.Reporter when the reporter leaves them empty.
	Cluster string
	Node    string

	// Webhooks are the http or https URLs that receive cluster-wide
	// alerts when this Manager is the sender (see Manager.SetSender).
	Webhooks []string

	// Key signs webhook bodies (see Sign). Required when Webhooks is not
	// empty. Use DeriveKey(clusterKey) rather than the cluster key itself:
	// receivers need this key to verify.
	Key []byte

	// StateFile keeps the open and recent alerts across restarts (for
	// example DATA/alerts.json); empty keeps them in memory only.
	StateFile string

	// MaxRecent is how many state changes Recent remembers (and the state
	// file keeps).
	MaxRecent int

	// QueueSize bounds the deliveries waiting for each webhook; when a
	// queue is full the oldest waiting delivery is dropped and logged.
	QueueSize int

	// Attempts is how many times one delivery is tried (at least 1).
	// Network errors, 429 and 5xx responses are retried; other responses
	// outside 2xx are not.
	Attempts int

	// Timeout bounds each attempt. Retries wait BackoffMin, doubling up
	// to BackoffMax, each wait jittered down by up to a half; a 429 or
	// 503 response's Retry-After (in seconds) is honoured up to
	// BackoffMax.
	Timeout    time.Duration
	BackoffMin time.Duration
	BackoffMax time.Duration

	// Logger receives one line per alert state change (Warn when firing,
	// Info when resolved) and the delivery failures. Nil discards.
	Logger *slog.Logger

	// Now is the clock for event times; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns the configuration for normal use: 1000 recent
// alerts, 256 waiting deliveries per webhook, 8 attempts of 10 s each
// with backoff from 1 s to 1 min (a delivery is abandoned after about
// three minutes of failures).
func DefaultConfig() Config {
	return Config{
		MaxRecent:  1000,
		QueueSize:  256,
		Attempts:   8,
		Timeout:    10 * time.Second,
		BackoffMin: time.Second,
		BackoffMax: time.Minute,
	}
}

// DefaultTestConfig is DefaultConfig with short timeouts and backoff
// (2 s per attempt, 10–100 ms between attempts) and a small queue.
func DefaultTestConfig() Config {
	c := DefaultConfig()
	c.MaxRecent = 100
	c.QueueSize = 16
	c.Attempts = 5
	c.Timeout = 2 * time.Second
	c.BackoffMin = 10 * time.Millisecond
	c.BackoffMax = 100 * time.Millisecond
	return c
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxRecent == 0 {
		c.MaxRecent = d.MaxRecent
	}
	if c.QueueSize == 0 {
		c.QueueSize = d.QueueSize
	}
	if c.Attempts == 0 {
		c.Attempts = d.Attempts
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = d.BackoffMin
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = max(d.BackoffMax, c.BackoffMin)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Limits checked by Validate.
const (
	maxRecentLimit = 100000
	maxQueueLimit  = 100000
	maxAttempts    = 100
)

// Validate reports the first thing wrong with c, in a sentence. Zero
// numeric fields are valid: they take the defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.MaxRecent < 1 || c.MaxRecent > maxRecentLimit:
		return fmt.Errorf("the number of recent alerts kept must be between 1 and %d", maxRecentLimit)
	case c.QueueSize < 1 || c.QueueSize > maxQueueLimit:
		return fmt.Errorf("the webhook queue size must be between 1 and %d", maxQueueLimit)
	case c.Attempts < 1 || c.Attempts > maxAttempts:
		return fmt.Errorf("webhook delivery attempts must be between 1 and %d", maxAttempts)
	case c.Timeout < 0:
		return errors.New("the webhook timeout must not be negative")
	case c.BackoffMin < 0 || c.BackoffMax < c.BackoffMin:
		return errors.New("webhook backoff must not be negative, and its maximum must be at least its minimum")
	case len(c.Webhooks) > 0 && len(c.Key) == 0:
		return errors.New("a signing key is required when alert webhooks are configured")
	}
	seen := make(map[string]bool, len(c.Webhooks))
	for i, raw := range c.Webhooks {
		if err := checkWebhookURL(raw); err != nil {
			return fmt.Errorf("alert webhook %d: %w", i+1, err)
		}
		if seen[raw] {
			return fmt.Errorf("alert webhook %d: %s is listed twice", i+1, redactURL(raw))
		}
		seen[raw] = true
	}
	return nil
}

// checkWebhookURL accepts absolute http and https URLs with a host.
func checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("the URL does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("the URL must start with http:// or https://, not %q", u.Scheme+":")
	}
	if u.Host == "" {
		return errors.New("the URL has no host")
	}
	if u.Fragment != "" {
		return errors.New("the URL must not have a fragment")
	}
	return nil
}

// redactURL shortens a webhook URL for logs and errors to its scheme and
// host: paths and queries of chat webhooks often hold a secret token.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	s := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		s += "/…"
	}
	return s
}
