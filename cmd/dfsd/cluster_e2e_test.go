package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dfsproject/dfs/alerts"
	"github.com/dfsproject/dfs/cluster"
	"github.com/dfsproject/dfs/cluster/control"
	"github.com/dfsproject/dfs/cluster/peer"
	"github.com/dfsproject/dfs/fs/fstest"
	"github.com/dfsproject/dfs/store"
)

// dfsctl runs the dfsctl binary and returns its exit status and output.
// A dfsctl still running after 3 minutes is killed (exit -1).
func dfsctl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fstest.Dfsctl(t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("dfsctl %s: %v", strings.Join(args, " "), err)
	return 0, ""
}

func TestClusterConverges(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			start := time.Now()
			c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: n})
			t.Logf("%d nodes started and converged in %v", n, time.Since(start).Round(time.Millisecond))
			for i, d := range c.Nodes {
				code, out := dfsctl(t, "status", "--json", "--data", d.DataDir)
				if code != 0 {
					t.Fatalf("dfsctl status on %s: exit %d:\n%s", fstest.Name(i), code, out)
				}
				var st control.Status
				if err := json.Unmarshal([]byte(out), &st); err != nil {
					t.Fatalf("dfsctl status --json on %s: %v:\n%s", fstest.Name(i), err, out)
				}
				if st.Health != control.Healthy || st.Self != fstest.Name(i) || len(st.Nodes) != n {
					t.Fatalf("%s: health %s, self %s, %d nodes; want healthy, %s, %d", fstest.Name(i), st.Health, st.Self, len(st.Nodes), fstest.Name(i), n)
				}
				for j, ns := range st.Nodes {
					if ns.Name != fstest.Name(j) || ns.State != "alive" || ns.Capacity == 0 || ns.HTTPAddr != c.Addrs[j].HTTP() {
						t.Errorf("%s sees %+v; want %s alive with a capacity at %s", fstest.Name(i), ns, fstest.Name(j), c.Addrs[j].HTTP())
					}
				}
			}
		})
	}
}

// webhook records the alert POSTs it receives after checking their
// signature. fail makes it answer 500 to the first fail attempts of each
// event; hang makes it never answer.
type webhook struct {
	t    *testing.T
	key  []byte
	fail int
	hang bool

	mu       sync.Mutex
	events   []alerts.Event
	attempts map[string]int // by event ID
	arrived  map[string]time.Time
}

func newWebhook(t *testing.T, clusterKey []byte, fail int, hang bool) (*webhook, string) {
	w := &webhook{t: t, key: alerts.DeriveKey(clusterKey), fail: fail, hang: hang,
		attempts: map[string]int{}, arrived: map[string]time.Time{}}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	if hang {
		t.Cleanup(srv.CloseClientConnections)
	}
	return w, srv.URL
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if w.hang {
		<-r.Context().Done()
		return
	}
	if err := alerts.VerifyRequest(w.key, r.Header, body, time.Now(), time.Minute); err != nil {
		w.t.Errorf("webhook POST with a bad signature: %v", err)
		http.Error(rw, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev alerts.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		w.t.Errorf("webhook body: %v: %s", err, body)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.attempts[ev.ID]++
	if w.attempts[ev.ID] <= w.fail {
		http.Error(rw, "try again", http.StatusInternalServerError)
		return
	}
	w.events = append(w.events, ev)
	w.arrived[ev.ID] = time.Now()
}

// count returns how many distinct events of kind about node with the
// given status were delivered, and when the first arrived.
func (w *webhook) count(kind alerts.Kind, node string, firing bool) (int, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	var first time.Time
	seen := map[string]bool{}
	for _, ev := range w.events {
		if ev.Kind == kind && ev.Node == node && ev.Firing == firing && !seen[ev.ID] {
			seen[ev.ID] = true
			if n == 0 {
				first = w.arrived[ev.ID]
			}
			n++
		}
	}
	return n, first
}

func (w *webhook) maxAttempts() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := 0
	for _, a := range w.attempts {
		m = max(m, a)
	}
	return m
}

// waitCount waits for want deliveries, then a little longer to see that
// no duplicate follows.
func (w *webhook) waitCount(t *testing.T, kind alerts.Kind, node string, firing bool, want int) time.Time {
	t.Helper()
	fstest.Eventually(t, 20*time.Second, fmt.Sprintf("%d %s webhook POST(s) for %s", want, kind, node), func() error {
		if n, _ := w.count(kind, node, firing); n < want {
			return fmt.Errorf("%d so far", n)
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	n, first := w.count(kind, node, firing)
	if n != want {
		t.Errorf("%d webhook POSTs for %s %s firing=%v; want exactly %d", n, kind, node, firing, want)
	}
	return first
}

// TestClusterKill9Alerts kills the first node (the one that sends alerts
// while it lives) of three: the others mark it dead, log it, and exactly
// one signed POST reaches each webhook, even though a second webhook
// answers 500 at first (it is retried) and a third never answers (it
// delays nothing). Restarting the node resolves the alert.
func TestClusterKill9Alerts(t *testing.T) {
	key, _ := cluster.GenerateKey()
	good, goodURL := newWebhook(t, key, 0, false)
	flaky, flakyURL := newWebhook(t, key, 2, false)
	_, hangURL := newWebhook(t, key, 0, true)
	c := fstest.StartCluster(t, fstest.ClusterOptions{
		Nodes: 3,
		Args:  []string{"--alert-webhook", goodURL, "--alert-webhook", flakyURL, "--alert-webhook", hangURL},
		Key:   key,
	})
	if code, out := dfsctl(t, "status", "--data", c.Nodes[1].DataDir); code != 0 {
		t.Fatalf("dfsctl status before the kill: exit %d\n%s", code, out)
	}

	killed := time.Now()
	c.Nodes[0].Kill9(t)
	c.WaitStates(t, 15*time.Second, []int{1, 2}, "n1=dead n2=alive n3=alive")
	t.Logf("kill -9 to n1 dead on n2 and n3: %v", time.Since(killed).Round(time.Millisecond))
	for _, i := range []int{1, 2} {
		fstest.Eventually(t, 5*time.Second, "dead-peer alert logged on "+fstest.Name(i), func() error {
			if !hasLine(c.Nodes[i].Log(), "alert firing", "kind=peer_dead", "node=n1") {
				return errors.New("no alert firing line for peer_dead n1")
			}
			return nil
		})
	}
	posted := good.waitCount(t, alerts.PeerDead, "n1", true, 1)
	t.Logf("kill -9 to the webhook POST: %v", posted.Sub(killed).Round(time.Millisecond))
	flaky.waitCount(t, alerts.PeerDead, "n1", true, 1)
	if a := flaky.maxAttempts(); a < 3 {
		t.Errorf("the webhook answering 500 twice got at most %d attempts for an event; want retries", a)
	}
	code, out := dfsctl(t, "status", "--data", c.Nodes[1].DataDir)
	if code != 1 || !strings.Contains(out, "n1 is dead") {
		t.Errorf("dfsctl status with n1 dead: exit %d; want 1 and the reason:\n%s", code, out)
	}

	c.Nodes[0].StartAgain(t)
	c.WaitAlive(t, 20*time.Second)
	good.waitCount(t, alerts.PeerDead, "n1", false, 1)
	flaky.waitCount(t, alerts.PeerDead, "n1", false, 1)
	fstest.Eventually(t, 10*time.Second, "dfsctl status healthy again", func() error {
		for i := range c.Nodes {
			if code, out := dfsctl(t, "status", "--data", c.Nodes[i].DataDir); code != 0 {
				return fmt.Errorf("%s: exit %d:\n%s", fstest.Name(i), code, out)
			}
		}
		return nil
	})
	if n, _ := good.count(alerts.PeerSuspect, "n1", true); n > 1 {
		t.Errorf("%d peer_suspect POSTs for n1; want at most one", n)
	}
}

// hasLine reports whether one line of log holds every part.
func hasLine(log string, parts ...string) bool {
	for _, line := range strings.Split(log, "\n") {
		ok := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// TestClusterPartition cuts n3 off inside a network namespace: both sides
// report the other dead, and the cluster is whole again after the
// partition heals.
func TestClusterPartition(t *testing.T) {
	ns := fstest.NewNetns(t)
	c := fstest.StartCluster(t, fstest.ClusterOptions{
		Nodes: 3,
		Addr: func(i int) fstest.NodeAddr {
			if i == 2 {
				return fstest.NodeAddr{IP: ns.NSIP, GossipPort: 7946, HTTPPort: 7948, Wrap: ns.Wrap}
			}
			return fstest.NodeAddr{IP: ns.HostIP, GossipPort: 7946 + 10*i, HTTPPort: 7948 + 10*i}
		},
	})
	cut := time.Now()
	ns.Partition(t)
	c.WaitStates(t, 15*time.Second, []int{0, 1}, "n1=alive n2=alive n3=dead")
	c.WaitStates(t, 15*time.Second, []int{2}, "n1=dead n2=dead n3=alive")
	t.Logf("partition to both sides reporting it: %v", time.Since(cut).Round(time.Millisecond))
	if code, out := dfsctl(t, "status", "--data", c.Nodes[0].DataDir); code != 1 || !strings.Contains(out, "n3 is dead") {
		t.Errorf("dfsctl status on n1 during the partition: exit %d; want 1 naming n3:\n%s", code, out)
	}
	healed := time.Now()
	ns.Heal(t)
	c.WaitAlive(t, 30*time.Second)
	t.Logf("heal to every node alive everywhere: %v", time.Since(healed).Round(time.Millisecond))
}

// TestClusterWrongKey: a node with another key is not admitted; it exits
// saying why, and the cluster logs that the key differs.
func TestClusterWrongKey(t *testing.T) {
	c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 2})
	other, _ := cluster.GenerateKey()
	addr := c.Addr(2)
	cmd := exec.Command(fstest.Binary(t), "--data", t.TempDir(), "--name", "intruder",
		"--addr", addr.Gossip(), "--http-addr", addr.HTTP(), "--gossip-profile", "test",
		"--cluster-key-file", fstest.WriteKeyFile(t, other), "--join", c.Addr(0).Gossip())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(out.String(), "cluster key") {
			t.Errorf("dfsd with the wrong key: %v; want a failure that names the cluster key:\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("dfsd with the wrong key still running after 30s:\n%s", out.String())
	}
	fstest.Eventually(t, 5*time.Second, "key mismatch logged by the cluster", func() error {
		if !hasLine(c.Nodes[0].Log(), "cluster key differs") {
			return errors.New("no line about the cluster key on n1")
		}
		return nil
	})
	c.WaitStates(t, time.Second, []int{0, 1}, "n1=alive n2=alive")
}

// TestPeerAPIRefusals sends hostile requests to a running node's peer API.
func TestPeerAPIRefusals(t *testing.T) {
	c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 1})
	base := "http://" + c.Addrs[0].HTTP()
	data := []byte("a chunk of data for the peer API test")
	id := store.Sum(data)
	ctx := context.Background()

	send := func(method, path string, body []byte, sign func(*http.Request)) int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if sign != nil {
			sign(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	signWith := func(key []byte, body []byte, at time.Time) func(*http.Request) {
		return func(r *http.Request) {
			if err := peer.Sign(r, key, body, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := "/v1/chunks/" + id.String()
	forged := make([]byte, 32)
	rand.Read(forged)

	if got := send("GET", "/v1/status", nil, nil); got != http.StatusUnauthorized {
		t.Errorf("unsigned status request: %d; want 401", got)
	}
	if got := send("PUT", path, data, nil); got != http.StatusUnauthorized {
		t.Errorf("unsigned PUT: %d; want 401", got)
	}
	if got := send("PUT", path, data, signWith(forged, data, time.Now())); got != http.StatusUnauthorized {
		t.Errorf("PUT signed with another key: %d; want 401", got)
	}
	if got := send("PUT", path, data, signWith(c.Key, data, time.Now().Add(-10*time.Minute))); got != http.StatusUnauthorized {
		t.Errorf("PUT signed 10 minutes ago: %d; want 401", got)
	}
	other := []byte("other bytes that do not hash to the chunk ID")
	if got := send("PUT", path, other, signWith(c.Key, other, time.Now())); got != http.StatusBadRequest {
		t.Errorf("PUT of bytes that do not match the ID: %d; want 400", got)
	}
	if _, err := os.Stat(filepath.Join(c.Nodes[0].DataDir, "chunks", filepath.FromSlash(id.Key()))); !os.IsNotExist(err) {
		t.Errorf("after a refused PUT, the chunk file: %v; want it absent", err)
	}

	// A replayed request is refused even though its signature is good.
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/status", nil)
	if err := peer.Sign(req, c.Key, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	for try, want := range []int{http.StatusOK, http.StatusUnauthorized} {
		r2 := req.Clone(ctx)
		resp, err := http.DefaultClient.Do(r2)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("signed request, try %d: %d; want %d", try+1, resp.StatusCode, want)
		}
	}

	// The real client works, and its chunk is stored.
	pc := &peer.Client{BaseURL: base, Key: c.Key}
	if err := pc.PutChunk(ctx, id, data); err != nil {
		t.Fatalf("signed PUT: %v", err)
	}
	got, err := pc.GetChunk(ctx, id)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GET after PUT: %q, %v", got, err)
	}
	if !hasLine(c.Nodes[0].Log(), "refused") {
		t.Errorf("refused peer requests were not logged")
	}
}

// TestFigures measures, for the closing notes, failure detection with both
// gossip profiles and the gossip traffic of an idle 5-node cluster. It
// runs only with DFS_FIGURES=1 (it takes about two minutes and asserts
// nothing about speed).
func TestFigures(t *testing.T) {
	if os.Getenv("DFS_FIGURES") == "" {
		t.Skip("set DFS_FIGURES=1 to measure")
	}
	for _, profile := range []string{"test", "lan"} {
		t.Run("detection-"+profile, func(t *testing.T) {
			key, _ := cluster.GenerateKey()
			hook, url := newWebhook(t, key, 0, false)
			c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 3, Key: key,
				Args: []string{"--gossip-profile", profile, "--alert-webhook", url}})
			for round := 0; round < 3; round++ {
				killed := time.Now()
				c.Nodes[2].Kill9(t)
				c.WaitStates(t, 60*time.Second, []int{0, 1}, "n1=alive n2=alive n3=dead")
				dead := time.Since(killed)
				at := hook.waitCountAtLeast(t, alerts.PeerDead, "n3", true, round+1)
				t.Logf("%s profile, round %d: kill -9 to dead on both survivors %v, to the webhook POST %v",
					profile, round+1, dead.Round(time.Millisecond), at.Sub(killed).Round(time.Millisecond))
				c.Nodes[2].StartAgain(t)
				c.WaitAlive(t, 60*time.Second)
			}
		})
	}
	t.Run("bandwidth", func(t *testing.T) {
		c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 5, Args: []string{"--gossip-profile", "lan"}})
		var rules [][]string
		for i := range c.Nodes {
			r := []string{"INPUT", "-d", c.Addrs[i].IP, "-m", "comment", "--comment", "dfs-figures"}
			if out, err := exec.Command("iptables", append([]string{"-I"}, r...)...).CombinedOutput(); err != nil {
				t.Skipf("iptables: %v: %s", err, out)
			}
			rules = append(rules, r)
		}
		t.Cleanup(func() {
			for _, r := range rules {
				exec.Command("iptables", append([]string{"-D"}, r...)...).Run()
			}
		})
		const window = 60 * time.Second
		time.Sleep(window)
		out, _ := exec.Command("iptables", "-L", "INPUT", "-v", "-x", "-n").CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "dfs-figures") {
				f := strings.Fields(line)
				var bytes float64
				fmt.Sscan(f[1], &bytes)
				t.Logf("idle 5-node cluster (lan profile), received by %s: %.0f B/s", f[7], bytes/window.Seconds())
			}
		}
	})
}

// waitCountAtLeast waits until at least want deliveries arrived and
// returns when the last of them did.
func (w *webhook) waitCountAtLeast(t *testing.T, kind alerts.Kind, node string, firing bool, want int) time.Time {
	t.Helper()
	fstest.Eventually(t, 60*time.Second, fmt.Sprintf("%d %s POSTs", want, kind), func() error {
		if n, _ := w.count(kind, node, firing); n < want {
			return fmt.Errorf("%d so far", n)
		}
		return nil
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	var last time.Time
	for _, ev := range w.events {
		if ev.Kind == kind && ev.Node == node && ev.Firing == firing && w.arrived[ev.ID].After(last) {
			last = w.arrived[ev.ID]
		}
	}
	return last
}
