package alerts

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string // substring of the error; "" for valid
	}{
		{"default", func(*Config) {}, ""},
		{"zero numbers take defaults", func(c *Config) { *c = Config{} }, ""},
		{"https webhook", func(c *Config) { c.Webhooks = []string{"https://hooks.example.com/a/b?x=1"} }, ""},
		{"no key", func(c *Config) { c.Webhooks = []string{"https://x.example"}; c.Key = nil }, "signing key is required"},
		{"ftp webhook", func(c *Config) { c.Webhooks = []string{"ftp://x.example/"} }, "must start with http:// or https://"},
		{"relative webhook", func(c *Config) { c.Webhooks = []string{"/hook"} }, "must start with http:// or https://"},
		{"no host", func(c *Config) { c.Webhooks = []string{"http:///hook"} }, "has no host"},
		{"unparsable", func(c *Config) { c.Webhooks = []string{"http://[::1"} }, "does not parse"},
		{"duplicate", func(c *Config) { c.Webhooks = []string{"http://a.example/x", "http://a.example/x"} }, "webhook 2: http://a.example/… is listed twice"},
		{"negative queue", func(c *Config) { c.QueueSize = -1 }, "queue size must be between"},
		{"huge recent", func(c *Config) { c.MaxRecent = 1 << 30 }, "recent alerts kept must be between"},
		{"negative attempts", func(c *Config) { c.Attempts = -2 }, "attempts must be between"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout must not be negative"},
		{"backoff inverted", func(c *Config) { c.BackoffMin = time.Minute; c.BackoffMax = time.Second }, "maximum must be at least its minimum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := testConfig()
			tc.change(&cfg)
			err := cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.want)
			}
			if _, nerr := New(cfg); nerr == nil || nerr.Error() != err.Error() {
				t.Errorf("New: %v, want %v", nerr, err)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T0/B0/SECRET": "https://hooks.slack.com/…",
		"http://127.0.0.1:8080":                         "http://127.0.0.1:8080",
		"http://127.0.0.1:8080/":                        "http://127.0.0.1:8080",
		"http://h.example?token=SECRET":                 "http://h.example/…",
		"http://user:pw@h.example/":                     "http://h.example",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
