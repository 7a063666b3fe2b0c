package cluster

import (
	"strings"
	"testing"
	"time"
)

func validTestConfig() Config {
	c := DefaultTestConfig()
	c.Name = "n1"
	c.Key = make([]byte, KeySize)
	return c
}

func TestDefaultConfigsValid(t *testing.T) {
	c := DefaultConfig()
	c.Name = "host-1"
	c.Key = make([]byte, KeySize)
	if err := c.Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
	tc := validTestConfig()
	if err := tc.Validate(); err != nil {
		t.Errorf("DefaultTestConfig: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no name", func(c *Config) { c.Name = "" }, "node name"},
		{"bad name", func(c *Config) { c.Name = "a/b" }, "node name"},
		{"long name", func(c *Config) { c.Name = strings.Repeat("x", 65) }, "node name"},
		{"short key", func(c *Config) { c.Key = make([]byte, 16) }, "cluster key must be 32 bytes"},
		{"no key", func(c *Config) { c.Key = nil }, "cluster key must be 32 bytes"},
		{"bind no port", func(c *Config) { c.BindAddr = "127.0.0.1" }, "host:port"},
		{"bind hostname", func(c *Config) { c.BindAddr = "localhost:1" }, "IP address"},
		{"bind port range", func(c *Config) { c.BindAddr = "127.0.0.1:70000" }, "port between"},
		{"advertise", func(c *Config) { c.AdvertiseAddr = "x" }, "advertise address"},
		{"http port 0", func(c *Config) { c.HTTPAddr = "127.0.0.1:0" }, "HTTP address"},
		{"join", func(c *Config) { c.Join = []string{"nohost"} }, "join address"},
		{"zone", func(c *Config) { c.Zone = strings.Repeat("z", 65) }, "zone"},
		{"used > capacity", func(c *Config) { c.Capacity, c.Used = 1, 2 }, "must not exceed capacity"},
		{"probe timeout", func(c *Config) { c.ProbeTimeout = time.Hour }, "probe timeout must be shorter"},
		{"zero interval", func(c *Config) { c.ProbeInterval = 0 }, "probe interval must be positive"},
		{"buffer", func(c *Config) { c.EventBuffer = 0 }, "event buffer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validTestConfig()
			tc.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestMovedOver1Percent(t *testing.T) {
	for _, tc := range []struct {
		old, cur uint64
		want     bool
	}{
		{0, 0, false}, {0, 1, true}, {1000, 1010, false}, {1000, 1011, true},
		{1000, 990, false}, {1000, 989, true}, {1 << 40, 1<<40 + 1<<30, false}, {100, 0, true},
	} {
		if got := movedOver1Percent(tc.old, tc.cur); got != tc.want {
			t.Errorf("movedOver1Percent(%d, %d) = %v", tc.old, tc.cur, got)
		}
	}
}

func TestBackoff(t *testing.T) {
	for i := 0; i < 20; i++ {
		d := backoff(i, 100*time.Millisecond, time.Second)
		if d < 75*time.Millisecond || d > 1250*time.Millisecond {
			t.Errorf("backoff(%d) = %v", i, d)
		}
	}
}
