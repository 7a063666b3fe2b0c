package fstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster"
	"github.com/dfsproject/dfs/cluster/control"
)

// ClusterOptions say how to start a cluster of dfsd processes.
type ClusterOptions struct {
	// Nodes is how many nodes start (at least 1).
	Nodes int
	// Mount gives every node a FUSE mount; otherwise nodes run without.
	Mount bool
	// Args are extra flags for every node; NodeArgs, when set, adds flags
	// for node i.
	Args     []string
	NodeArgs func(i int) []string
	// Backend, when set, gives node i's --backend URL.
	Backend func(i int) string
	// Addr, when set, places node i: the IP it binds and the ports of its
	// gossip and HTTP listeners, and a command to wrap it in (a network
	// namespace). The default puts node i on 127.X.Y.(i+1), ports 7946
	// and 7948, with X.Y random per cluster.
	Addr func(i int) NodeAddr
	// Key is the cluster key; nil makes a new one.
	Key []byte
}

// NodeAddr is where one node listens. Raft listens on the port after
// the gossip port.
type NodeAddr struct {
	IP                   string
	GossipPort, HTTPPort int
	Wrap                 []string
}

// Gossip and HTTP return "IP:port".
func (a NodeAddr) Gossip() string { return net.JoinHostPort(a.IP, strconv.Itoa(a.GossipPort)) }
func (a NodeAddr) HTTP() string   { return net.JoinHostPort(a.IP, strconv.Itoa(a.HTTPPort)) }
func (a NodeAddr) Raft() string   { return net.JoinHostPort(a.IP, strconv.Itoa(a.GossipPort+1)) }

// Cluster is several dfsd processes that gossip with each other, using
// the fast "test" gossip profile.
type Cluster struct {
	// Nodes are the daemons, node i named Name(i).
	Nodes []*Daemon
	// Addrs are where each node listens.
	Addrs []NodeAddr
	// KeyFile is the cluster key file every node uses; Key its bytes.
	KeyFile string
	Key     []byte

	opts ClusterOptions
	base string // 127.X.Y. for the default addresses
}

// Name returns the name of node i: n1, n2, ...
func Name(i int) string { return fmt.Sprintf("n%d", i+1) }

// StartCluster starts opts.Nodes nodes, the first alone and the others
// joining it, and waits until every node sees every other alive.
func StartCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	RequireFUSE(t)
	if opts.Nodes < 1 {
		t.Fatal("StartCluster: at least one node")
	}
	c := &Cluster{opts: opts, base: fmt.Sprintf("127.%d.%d.", 1+rand.IntN(254), 1+rand.IntN(254))}
	c.Key = opts.Key
	if c.Key == nil {
		c.Key, _ = cluster.GenerateKey()
	}
	c.KeyFile = WriteKeyFile(t, c.Key)
	for i := 0; i < opts.Nodes; i++ {
		c.AddNode(t)
	}
	c.WaitAlive(t, 20*time.Second)
	c.WaitHealthy(t, 20*time.Second)
	return c
}

// WaitHealthy waits until every running node reports the cluster
// healthy: every member alive, a Raft leader known, no alert open.
func (c *Cluster) WaitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, "every node healthy", func() error {
		for i, d := range c.Nodes {
			if !d.Running() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st, err := c.Client(i).Status(ctx)
			cancel()
			if err != nil {
				return err
			}
			if st.Health != control.Healthy {
				return fmt.Errorf("%s: %s: %s", Name(i), st.Health, strings.Join(st.Reasons, "; "))
			}
		}
		return nil
	})
}

// WriteKeyFile writes key to a new 0600 file and returns its path.
func WriteKeyFile(t testing.TB, key []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cluster.key")
	if err := os.WriteFile(path, []byte(cluster.EncodeKey(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Addr returns where node i listens (also for a node not started yet).
func (c *Cluster) Addr(i int) NodeAddr {
	if c.opts.Addr != nil {
		return c.opts.Addr(i)
	}
	return NodeAddr{IP: c.base + strconv.Itoa(i+1), GossipPort: 7946, HTTPPort: 7948}
}

// NodeFlags returns the cluster flags of node i.
func (c *Cluster) NodeFlags(i int) []string {
	a := c.Addr(i)
	args := []string{
		"--name", Name(i),
		"--addr", a.Gossip(),
		"--http-addr", a.HTTP(),
		"--raft-addr", a.Raft(),
		"--cluster-key-file", c.KeyFile,
		"--gossip-profile", "test",
		// The test machine's disk may be fuller than any threshold: tests
		// that want capacity_high set it themselves.
		"--capacity-alert", "0",
	}
	if i > 0 {
		args = append(args, "--join", c.Addr(0).Gossip())
	} else if len(c.Nodes) > 1 {
		args = append(args, "--join", c.Addr(1).Gossip())
	}
	args = append(args, c.opts.Args...)
	if c.opts.NodeArgs != nil {
		args = append(args, c.opts.NodeArgs(i)...)
	}
	return args
}

// AddNode starts one more node, joining node 1 (or node 2 for node 1
// itself when it is started again).
func (c *Cluster) AddNode(t testing.TB) *Daemon {
	t.Helper()
	i := len(c.Nodes)
	a := c.Addr(i)
	o := Options{NoMount: !c.opts.Mount, Args: c.NodeFlags(i), Wrap: a.Wrap}
	if c.opts.Backend != nil {
		o.Backend = c.opts.Backend(i)
	}
	c.Addrs = append(c.Addrs, a)
	d := Start(t, o)
	c.Nodes = append(c.Nodes, d)
	return d
}

// Client returns a control client for node i's socket.
func (c *Cluster) Client(i int) *control.Client {
	return &control.Client{Socket: control.SocketPath(c.Nodes[i].DataDir), Timeout: 5 * time.Second}
}

// Status returns node i's view of the cluster.
func (c *Cluster) Status(t testing.TB, i int) control.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.Client(i).Status(ctx)
	if err != nil {
		t.Fatalf("status of %s: %v", Name(i), err)
	}
	return st
}

// States returns node i's view as "name=state" sorted by name, or an
// error when it cannot be asked.
func (c *Cluster) States(i int) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.Client(i).Status(ctx)
	if err != nil {
		return "", err
	}
	var s []string
	for _, n := range st.Nodes {
		s = append(s, n.Name+"="+n.State)
	}
	return strings.Join(s, " "), nil
}

// WaitStates waits until every running node in `on` reports want (as
// States formats it).
func (c *Cluster) WaitStates(t testing.TB, timeout time.Duration, on []int, want string) {
	t.Helper()
	Eventually(t, timeout, "cluster views agree on "+want, func() error {
		for _, i := range on {
			got, err := c.States(i)
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("%s sees %s", Name(i), got)
			}
		}
		return nil
	})
}

// WaitAlive waits until every running node sees every running node alive
// and nothing else.
func (c *Cluster) WaitAlive(t testing.TB, timeout time.Duration) {
	t.Helper()
	var on []int
	var want []string
	for i, d := range c.Nodes {
		if d.Running() {
			on = append(on, i)
			want = append(want, Name(i)+"=alive")
		}
	}
	slices.Sort(want)
	c.WaitStates(t, timeout, on, strings.Join(want, " "))
}

// Eventually calls f until it returns nil, failing the test with f's last
// error after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Netns is a network namespace joined to the host by a veth pair, for
// partition tests: the host side has HostIP, the namespace NSIP. Nodes in
// the host bind HostIP (with distinct ports) and a node in the namespace
// binds NSIP and runs wrapped in Wrap.
type Netns struct {
	Name         string
	HostIP, NSIP string
	Wrap         []string
	hostIf, nsIf string
}

// NewNetns creates a namespace and its link, removed at the end of the
// test. It skips the test when namespaces or iptables are not available.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	RequireFUSE(t)
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: partition tests need it (make deps installs it)", tool)
		}
	}
	id := rand.IntN(200) + 20
	n := &Netns{
		Name:   fmt.Sprintf("dfst%d", rand.Uint32()),
		HostIP: fmt.Sprintf("10.250.%d.1", id),
		NSIP:   fmt.Sprintf("10.250.%d.2", id),
		hostIf: fmt.Sprintf("dfsh%d", id),
		nsIf:   fmt.Sprintf("dfsn%d", id),
	}
	n.Wrap = []string{"ip", "netns", "exec", n.Name}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", n.Name).Run()
		exec.Command("ip", "link", "del", n.hostIf).Run()
	})
	steps := [][]string{
		{"ip", "netns", "add", n.Name},
		{"ip", "link", "add", n.hostIf, "type", "veth", "peer", "name", n.nsIf},
		{"ip", "link", "set", n.nsIf, "netns", n.Name},
		{"ip", "addr", "add", n.HostIP + "/24", "dev", n.hostIf},
		{"ip", "link", "set", n.hostIf, "up"},
		{"ip", "netns", "exec", n.Name, "ip", "addr", "add", n.NSIP + "/24", "dev", n.nsIf},
		{"ip", "netns", "exec", n.Name, "ip", "link", "set", n.nsIf, "up"},
		{"ip", "netns", "exec", n.Name, "ip", "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return n
}

// Partition drops every packet in and out of the namespace (inside it,
// so nothing on the host changes).
func (n *Netns) Partition(t testing.TB) {
	t.Helper()
	n.iptables(t, "-I")
}

// Heal undoes Partition.
func (n *Netns) Heal(t testing.TB) {
	t.Helper()
	n.iptables(t, "-D")
}

func (n *Netns) iptables(t testing.TB, op string) {
	for _, chain := range []string{"INPUT", "OUTPUT"} {
		args := []string{"netns", "exec", n.Name, "iptables", op, chain, "-j", "DROP"}
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
}
