package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/dfsproject/dfs/cluster/internal/wire"
)

// Config configures a Node. New copies it; the caller's value is never
// changed.
type Config struct {
	// Name identifies the node in the cluster: 1 to 64 bytes of
	// [A-Za-z0-9._-], unique among the members.
	Name string
	// BindAddr is the gossip listen address (UDP and TCP), "IP:port". Port 0
	// picks a free port; Node.BoundAddr reports it.
	BindAddr string
	// AdvertiseAddr is the "IP:port" other nodes use to reach this one.
	// Empty means the bound address (or, when bound to 0.0.0.0 or ::, the
	// first private IP of the host). Port 0 means the bound port.
	AdvertiseAddr string
	// HTTPAddr is this node's peer and metrics API address, "host:port",
	// gossiped in the node metadata. An empty or unspecified host (":7948",
	// "0.0.0.0:7948") is replaced by the advertised gossip IP.
	HTTPAddr string
	// RaftAddr is this node's Raft address, "host:port", gossiped like
	// HTTPAddr (an unspecified host is replaced the same way). Empty for a
	// node that takes no part in Raft.
	RaftAddr string
	// Join lists "host:port" addresses of existing members. Empty starts a
	// new cluster.
	Join []string
	// Zone is the failure domain (rack, room) used by placement. May be
	// empty.
	Zone string
	// Capacity and Used are the initial storage figures, in bytes.
	Capacity, Used uint64
	// Key is the 32-byte cluster key. Gossip is encrypted and authenticated
	// with it (AES-256-GCM); nodes with another key cannot join.
	Key []byte
	// Version is the software version gossiped in the metadata.
	Version string

	// Failure detection and gossip timings; see the package doc for the
	// detection time they give.
	ProbeInterval           time.Duration
	ProbeTimeout            time.Duration
	SuspicionMult           int
	SuspicionMaxTimeoutMult int
	GossipInterval          time.Duration
	PushPullInterval        time.Duration
	// TCPTimeout bounds push/pull and fallback TCP probes.
	TCPTimeout time.Duration
	// GossipToTheDeadTime is how long memberlist keeps gossiping about a
	// dead node before forgetting it.
	GossipToTheDeadTime time.Duration
	// DeadNodeReclaimTime is how long a node must have been dead before
	// the same name may come back from another address (a restart on a new
	// port or IP).
	DeadNodeReclaimTime time.Duration

	// JoinRetryMin and JoinRetry are the first and the largest wait
	// between join attempts (exponential backoff with jitter).
	JoinRetryMin time.Duration
	JoinRetry    time.Duration
	// BroadcastTimeout bounds the wait for a metadata update or a leave
	// message to be gossiped (in SetUsage/SetState and Close).
	BroadcastTimeout time.Duration
	// PollInterval is how often the view is reconciled with memberlist's
	// member list (a safety net for events dropped under overload).
	PollInterval time.Duration
	// EventBuffer is the capacity of the Events channel. When the consumer
	// falls behind, the oldest undelivered event is dropped.
	EventBuffer int
	// Retention is how long dead and left members stay in the view.
	Retention time.Duration
	// ReconnectInterval is how often Run tries to join again the members
	// that are dead (a crash or a partition: memberlist never probes a
	// dead member again, so two sides of a healed partition would stay
	// apart) and, when this node is alone, the Join addresses. Zero
	// disables it.
	ReconnectInterval time.Duration

	// Usage, when set, is called every UsageInterval by Run to refresh
	// capacity and used bytes (for example from the storage backend).
	Usage         func() (capacity, used uint64, err error)
	UsageInterval time.Duration

	// Logger receives the node's logs and memberlist's, bridged. Nil
	// discards them.
	Logger *slog.Logger
}

// DefaultConfig returns settings for a LAN (memberlist's
// DefaultLANConfig timings): a crashed node of a small cluster is declared
// dead after about 5 to 7 seconds.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	if !wire.ValidName(host, maxNameLen) {
		host = ""
	}
	return Config{
		Name:                    host,
		BindAddr:                "0.0.0.0:7946",
		HTTPAddr:                ":7948",
		ProbeInterval:           time.Second,
		ProbeTimeout:            500 * time.Millisecond,
		SuspicionMult:           4,
		SuspicionMaxTimeoutMult: 6,
		GossipInterval:          200 * time.Millisecond,
		PushPullInterval:        30 * time.Second,
		TCPTimeout:              10 * time.Second,
		GossipToTheDeadTime:     30 * time.Second,
		DeadNodeReclaimTime:     30 * time.Second,
		JoinRetryMin:            500 * time.Millisecond,
		JoinRetry:               30 * time.Second,
		BroadcastTimeout:        5 * time.Second,
		PollInterval:            time.Second,
		EventBuffer:             1024,
		Retention:               24 * time.Hour,
		ReconnectInterval:       10 * time.Second,
		UsageInterval:           30 * time.Second,
	}
}

// DefaultTestConfig returns fast settings for tests on one host: gossip on
// 127.0.0.1 with a free port, and a crashed node declared dead in about 1
// to 2 seconds. Name, Key and HTTPAddr still have to be set.
func DefaultTestConfig() Config {
	c := DefaultConfig()
	c.Name = ""
	c.BindAddr = "127.0.0.1:0"
	c.HTTPAddr = "127.0.0.1:7948"
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.SuspicionMult = 3
	c.SuspicionMaxTimeoutMult = 2
	c.GossipInterval = 50 * time.Millisecond
	c.PushPullInterval = 2 * time.Second
	c.TCPTimeout = 2 * time.Second
	c.GossipToTheDeadTime = 5 * time.Second
	c.DeadNodeReclaimTime = time.Second
	c.JoinRetryMin = 50 * time.Millisecond
	c.JoinRetry = time.Second
	c.BroadcastTimeout = 2 * time.Second
	c.PollInterval = 200 * time.Millisecond
	c.Retention = time.Hour
	c.ReconnectInterval = 500 * time.Millisecond
	c.UsageInterval = time.Second
	return c
}

// Validate reports the first problem with c in a plain sentence.
func (c *Config) Validate() error {
	if !wire.ValidName(c.Name, maxNameLen) {
		return fmt.Errorf("node name %q must be 1 to %d bytes of letters, digits, '.', '_' or '-'", c.Name, maxNameLen)
	}
	if err := checkIPPort("gossip bind address", c.BindAddr, true); err != nil {
		return err
	}
	if c.AdvertiseAddr != "" {
		if err := checkIPPort("advertise address", c.AdvertiseAddr, true); err != nil {
			return err
		}
	}
	if c.RaftAddr != "" {
		if err := checkHostPort("Raft address", c.RaftAddr, false); err != nil {
			return err
		}
		if len(c.RaftAddr) > maxAddrLen {
			return fmt.Errorf("raft address %q must be at most %d bytes", c.RaftAddr, maxAddrLen)
		}
	}
	if err := checkHostPort("HTTP address", c.HTTPAddr, false); err != nil {
		return err
	}
	if len(c.HTTPAddr) > maxAddrLen {
		return fmt.Errorf("HTTP address %q must be at most %d bytes", c.HTTPAddr, maxAddrLen)
	}
	for _, j := range c.Join {
		if err := checkHostPort("join address", j, false); err != nil {
			return err
		}
	}
	if len(c.Zone) > maxZoneLen || !wire.ValidText(c.Zone) {
		return fmt.Errorf("zone %q must be at most %d bytes of printable ASCII", c.Zone, maxZoneLen)
	}
	if len(c.Version) > maxVersionLen || !wire.ValidText(c.Version) {
		return fmt.Errorf("version %q must be at most %d bytes of printable ASCII", c.Version, maxVersionLen)
	}
	if len(c.Key) != KeySize {
		return fmt.Errorf("the cluster key must be %d bytes, not %d (generate one with GenerateKey or dfsctl keygen)", KeySize, len(c.Key))
	}
	if c.Used > c.Capacity && c.Capacity != 0 {
		return fmt.Errorf("used bytes (%d) must not exceed capacity (%d)", c.Used, c.Capacity)
	}
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"probe interval", c.ProbeInterval},
		{"probe timeout", c.ProbeTimeout},
		{"gossip interval", c.GossipInterval},
		{"push/pull interval", c.PushPullInterval},
		{"TCP timeout", c.TCPTimeout},
		{"gossip-to-the-dead time", c.GossipToTheDeadTime},
		{"first join retry wait", c.JoinRetryMin},
		{"largest join retry wait", c.JoinRetry},
		{"broadcast timeout", c.BroadcastTimeout},
		{"poll interval", c.PollInterval},
		{"retention", c.Retention},
	}
	for _, d := range durations {
		if d.d <= 0 {
			return fmt.Errorf("%s must be positive", d.name)
		}
	}
	if c.ReconnectInterval < 0 {
		return errors.New("reconnect interval must not be negative")
	}
	if c.ProbeTimeout >= c.ProbeInterval {
		return errors.New("probe timeout must be shorter than the probe interval")
	}
	if c.JoinRetryMin > c.JoinRetry {
		return errors.New("first join retry wait must not exceed the largest one")
	}
	if c.SuspicionMult < 1 {
		return errors.New("suspicion multiplier must be at least 1")
	}
	if c.SuspicionMaxTimeoutMult < 1 {
		return errors.New("suspicion max timeout multiplier must be at least 1")
	}
	if c.DeadNodeReclaimTime < 0 {
		return errors.New("dead node reclaim time must not be negative")
	}
	if c.EventBuffer < 1 {
		return errors.New("event buffer must hold at least one event")
	}
	if c.Usage != nil && c.UsageInterval <= 0 {
		return errors.New("usage interval must be positive when a usage function is set")
	}
	return nil
}

// checkIPPort checks an "IP:port" address (memberlist needs IP literals).
func checkIPPort(what, addr string, zeroPort bool) error {
	host, _, err := splitPort(what, addr, zeroPort)
	if err != nil {
		return err
	}
	if net.ParseIP(host) == nil {
		return fmt.Errorf("%s %q must be IP:port with an IP address", what, addr)
	}
	return nil
}

func checkHostPort(what, addr string, zeroPort bool) error {
	_, _, err := splitPort(what, addr, zeroPort)
	return err
}

func splitPort(what, addr string, zeroPort bool) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%s %q must be host:port", what, addr)
	}
	p, err := strconv.Atoi(ps)
	lo := 1
	if zeroPort {
		lo = 0
	}
	if err != nil || p < lo || p > 65535 {
		return "", 0, fmt.Errorf("%s %q must have a port between %d and 65535", what, addr, lo)
	}
	return host, p, nil
}
