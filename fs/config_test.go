package fs

import (
	"math"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	if err := DefaultTestConfig().Validate(); err != nil {
		t.Errorf("test config: %v", err)
	}
	zero := DefaultConfig()
	zero.EntryTimeout, zero.AttrTimeout, zero.NegativeTimeout = 0, 0, 0
	if err := zero.Validate(); err != nil {
		t.Errorf("zero timeouts (no kernel caching) must be valid: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"negative entry timeout": func(c *Config) { c.EntryTimeout = -time.Second },
		"negative attr timeout":  func(c *Config) { c.AttrTimeout = -1 },
		"negative neg. timeout":  func(c *Config) { c.NegativeTimeout = -1 },
		"zero max write":         func(c *Config) { c.MaxWrite = 0 },
		"odd max write":          func(c *Config) { c.MaxWrite = 5000 },
		"huge max write":         func(c *Config) { c.MaxWrite = 32 << 20 },
		"negative grace":         func(c *Config) { c.InterruptGrace = -time.Second },
	} {
		c := DefaultConfig()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTimeConversion(t *testing.T) {
	for _, ns := range []int64{0, 1, 999999999, 1e9, 1700000000123456789, -1, -1e9, -1500000000, math.MaxInt64 - 1e9} {
		sec, nsec := splitNs(ns)
		if nsec >= 1e9 {
			t.Errorf("splitNs(%d): nsec %d", ns, nsec)
		}
		if got := joinNs(sec, nsec); got != ns {
			t.Errorf("joinNs(splitNs(%d)) = %d", ns, got)
		}
	}
	// Times beyond what Unix nanoseconds hold are clamped, not wrapped.
	if got := joinNs(uint64(1)<<62, 0); got != math.MaxInt64 {
		t.Errorf("far future: %d", got)
	}
	neg := int64(-1) << 62
	if got := joinNs(uint64(neg), 0); got != math.MinInt64 {
		t.Errorf("far past: %d", got)
	}
}
