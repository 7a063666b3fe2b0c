package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dfsproject/dfs/alerts"
	"github.com/dfsproject/dfs/cluster"
	"github.com/dfsproject/dfs/cluster/control"
)

var t0 = time.Date(2026, 11, 29, 16, 31, 2, 0, time.UTC)

// fakeSource serves a fixed status and records the n it is asked for.
type fakeSource struct {
	st control.Status
	al control.AlertList

	mu     sync.Mutex
	alertN []int
}

func (f *fakeSource) Status() control.Status { return f.st }

func (f *fakeSource) Alerts(n int) control.AlertList {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alertN = append(f.alertN, n)
	return f.al
}

func (f *fakeSource) asked() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.alertN)
}

var (
	deadAlert = alerts.Event{
		ID: "e1", Kind: alerts.PeerDead, Node: "n3", Severity: alerts.SeverityCritical,
		Reporter: "n1", Cluster: "dfs", Firing: true, Time: t0.Add(-time.Minute),
		Details: map[string]string{"reason": "no ack", "addr": "10.0.0.3:7946"},
	}
	resolvedAlert = alerts.Event{
		ID: "e0", Kind: alerts.PeerSuspect, Node: "n2", Severity: alerts.SeverityWarning,
		Reporter: "n1", Cluster: "dfs", Firing: false, Time: t0.Add(-2 * time.Minute),
	}
)

// healthy returns a source of a healthy three-node cluster seen from n1.
func healthy() *fakeSource {
	return &fakeSource{st: control.Status{
		Cluster: "dfs", Self: "n1", Version: "v1", Health: control.Healthy,
		Nodes: []control.NodeStatus{
			{Name: "n1", State: "alive", Mode: "active", Addr: "10.0.0.1:7946", HTTPAddr: "10.0.0.1:7948",
				Zone: "a", Capacity: 3 << 29, Used: 3 << 28, UsedPercent: 50, LastSeen: t0, Since: t0, Local: true},
			{Name: "n2", State: "alive", Mode: "draining", Addr: "10.0.0.2:7946", HTTPAddr: "10.0.0.2:7948",
				Capacity: 1 << 40, Used: 1 << 38, UsedPercent: 25, LastSeen: t0.Add(-400 * time.Millisecond), Since: t0},
			{Name: "n3", State: "alive", Mode: "active", Addr: "10.0.0.3:7946", HTTPAddr: "10.0.0.3:7948",
				Zone: "b", LastSeen: t0.Add(-3 * time.Minute), Since: t0},
		},
		Alerts: []alerts.Event{},
		Time:   t0,
	}}
}

// degraded returns a source of the same cluster with n3 dead.
func degraded() *fakeSource {
	f := healthy()
	f.st.Health = control.Degraded
	f.st.Reasons = []string{"n3 is dead since 16:30:02", "1 alert is critical"}
	f.st.Nodes[2].State = "dead"
	f.st.Alerts = []alerts.Event{deadAlert}
	f.al = control.AlertList{Open: []alerts.Event{deadAlert}, Recent: []alerts.Event{resolvedAlert, deadAlert}}
	return f
}

// daemon serves src on a control socket in a new data directory, as dfsd
// does, until the end of the test, and returns the data directory.
func daemon(t *testing.T, src control.Source) string {
	t.Helper()
	dir := t.TempDir()
	ln, err := control.Listen(control.SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	h, err := control.NewHandler(control.HandlerConfig{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return dir
}

// dfsctl runs dfsctl with args and returns its exit status, stdout and
// stderr.
func dfsctl(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustContain fails the test unless s contains every one of want.
func mustContain(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, s)
		}
	}
}

func TestStatusHealthy(t *testing.T) {
	dir := daemon(t, healthy())
	code, out, errOut := dfsctl("status", "--data", dir)
	if code != exitOK || errOut != "" {
		t.Fatalf("status: exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(out, "\n")
	if lines[0] != "cluster dfs: healthy (3 nodes alive)" {
		t.Errorf("first line %q", lines[0])
	}
	if !strings.HasPrefix(lines[2], "NAME ") || !strings.Contains(lines[2], "LAST SEEN") {
		t.Errorf("no table header in line 3: %q", lines[2])
	}
	mustContain(t, "status output", out,
		"n1*", "10.0.0.1:7948", "1.5 GiB", "768 MiB", "50%",
		"n2 ", "draining", "1 TiB", "256 GiB", "25%", "0.4s ago",
		"n3 ", "3m ago",
		"No open alerts.")
	// n1 is local: no last seen; n3 reports no capacity.
	for _, l := range lines {
		f := strings.Fields(l)
		switch {
		case len(f) > 0 && f[0] == "n1*" && f[len(f)-1] != "-":
			t.Errorf("the local node has a last-seen time: %q", l)
		case len(f) > 0 && f[0] == "n3" && !reflect.DeepEqual(f[4:8], []string{"b", "-", "-", "-"}):
			t.Errorf("n3's zone, capacity, used, use%%: %q", f[4:8])
		case len(f) > 0 && f[0] == "n2" && f[4] != "-":
			t.Errorf("n2 has no zone but shows %q", f[4])
		}
	}
}

func TestStatusDegraded(t *testing.T) {
	dir := daemon(t, degraded())
	code, out, errOut := dfsctl("status", "--data", dir)
	if code != exitDegraded || errOut != "" {
		t.Fatalf("status: exit %d, stderr %q; want %d", code, errOut, exitDegraded)
	}
	want := "cluster dfs: DEGRADED: n3 is dead since 16:30:02; 1 alert is critical\n"
	if !strings.HasPrefix(out, want) {
		t.Errorf("output starts %q, want %q", strings.SplitAfter(out, "\n")[0], want)
	}
	mustContain(t, "status output", out, "Open alerts:", "critical", "peer_dead", "n3", "by n1",
		"addr=10.0.0.3:7946 reason=\"no ack\"", t0.Add(-time.Minute).Local().Format(alertTimeFormat))
	if strings.Contains(out, "No open alerts.") {
		t.Errorf("says no open alerts:\n%s", out)
	}
	// --json keeps the exit status.
	if code, _, _ := dfsctl("status", "--json", "--data", dir); code != exitDegraded {
		t.Errorf("status --json on a degraded cluster: exit %d", code)
	}
}

func TestStatusUnreachable(t *testing.T) {
	dir := t.TempDir()
	for _, cmd := range []string{"status", "nodes", "alerts"} {
		code, out, errOut := dfsctl(cmd, "--data", dir)
		want := "dfsctl: cannot reach dfsd at unix socket " + filepath.Join(dir, "dfsd.sock") + ": no such file"
		if code != exitError || out != "" || !strings.HasPrefix(errOut, want) {
			t.Errorf("%s with no daemon: exit %d, stdout %q, stderr %q; want 2 and %q", cmd, code, out, errOut, want)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	src := degraded()
	dir := daemon(t, src)
	// Global flags before and after the command.
	for _, args := range [][]string{
		{"--data", dir, "status", "--json"},
		{"status", "--json", "--data", dir},
		{"--json", "status", "--data=" + dir},
		{"--data", dir, "--json", "status"},
	} {
		code, out, errOut := dfsctl(args...)
		if code != exitDegraded {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
			continue
		}
		var st control.Status
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Errorf("%q: output is not a Status: %v\n%s", args, err, out)
			continue
		}
		if !reflect.DeepEqual(st, src.st) {
			t.Errorf("%q: decoded\n%+v\nwant\n%+v", args, st, src.st)
		}
	}
}

func TestNodes(t *testing.T) {
	src := degraded()
	dir := daemon(t, src)
	code, out, errOut := dfsctl("nodes", "--data", dir)
	if code != exitOK {
		t.Fatalf("nodes: exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME ") {
		t.Fatalf("nodes printed %d lines, want a header and 3 nodes:\n%s", len(lines), out)
	}
	for i, name := range []string{"n1*", "n2", "n3"} {
		if f := strings.Fields(lines[i+1]); f[0] != name {
			t.Errorf("line %d starts %q, want %q", i+2, f[0], name)
		}
	}
	mustContain(t, "n3's line", lines[3], "dead")

	code, out, _ = dfsctl("--json", "nodes", "--data", dir)
	var nodes []control.NodeStatus
	if err := json.Unmarshal([]byte(out), &nodes); code != exitOK || err != nil {
		t.Fatalf("nodes --json: exit %d, %v\n%s", code, err, out)
	}
	if !reflect.DeepEqual(nodes, src.st.Nodes) {
		t.Errorf("nodes --json decoded %+v", nodes)
	}
}

func TestAlerts(t *testing.T) {
	src := degraded()
	dir := daemon(t, src)
	code, out, errOut := dfsctl("alerts", "--data", dir)
	if code != exitOK {
		t.Fatalf("alerts: exit %d, stderr %q", code, errOut)
	}
	open, recent, ok := strings.Cut(out, "Recent alert changes")
	if !ok {
		t.Fatalf("no recent changes section:\n%s", out)
	}
	mustContain(t, "open alerts", open, "Open alerts:", "peer_dead")
	if strings.Contains(open, "peer_suspect") {
		t.Errorf("a resolved alert is listed as open:\n%s", open)
	}
	mustContain(t, "recent changes", recent, "(up to 20, oldest first)", "resolved", "peer_suspect", "firing", "peer_dead")
	if i, j := strings.Index(recent, "peer_suspect"), strings.Index(recent, "peer_dead"); i > j {
		t.Errorf("recent changes are not in the source's order:\n%s", recent)
	}

	for _, args := range [][]string{
		{"alerts", "-n", "5", "--data", dir},
		{"--data", dir, "alerts", "-n=5"},
		{"alerts", "--data", dir, "--n", "5"},
	} {
		if code, out, _ := dfsctl(args...); code != exitOK || !strings.Contains(out, "up to 5") {
			t.Errorf("%q: exit %d\n%s", args, code, out)
		}
	}
	if got, want := src.asked(), []int{20, 5, 5, 5}; !slices.Equal(got, want) {
		t.Errorf("the daemon was asked for %v changes, want %v", got, want)
	}

	code, out, _ = dfsctl("alerts", "--json", "-n", "3", "--data", dir)
	var al control.AlertList
	if err := json.Unmarshal([]byte(out), &al); code != exitOK || err != nil || !reflect.DeepEqual(al, src.al) {
		t.Fatalf("alerts --json: exit %d, %v, decoded %+v", code, err, al)
	}

	for _, n := range []string{"0", "1001", "x"} {
		if code, _, errOut := dfsctl("alerts", "-n", n, "--data", dir); code != exitError || !strings.Contains(errOut, "-n") {
			t.Errorf("alerts -n %s: exit %d, stderr %q", n, code, errOut)
		}
	}
	if got := src.asked(); len(got) != 5 {
		t.Errorf("a bad -n reached the daemon: %v", got)
	}
}

func TestAlertsNone(t *testing.T) {
	dir := daemon(t, healthy())
	code, out, _ := dfsctl("alerts", "--data", dir)
	if code != exitOK || out != "No open alerts.\n\nNo recent alert changes.\n" {
		t.Fatalf("alerts with none: exit %d\n%q", code, out)
	}
}

// writeKey writes key to a new key file and returns its path.
func writeKey(t *testing.T, key []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cluster.key")
	if err := os.WriteFile(path, []byte(cluster.EncodeKey(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAddr(t *testing.T) {
	key, err := cluster.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := cluster.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	src := healthy()
	h, err := control.NewHandler(control.HandlerConfig{Source: src, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	keyFile, otherFile := writeKey(t, key), writeKey(t, other)

	code, out, errOut := dfsctl("status", "--addr", addr, "--cluster-key-file", keyFile)
	if code != exitOK || !strings.HasPrefix(out, "cluster dfs: healthy") {
		t.Fatalf("status --addr: exit %d, stderr %q\n%s", code, errOut, out)
	}
	if code, out, errOut := dfsctl("--addr", addr, "--cluster-key-file", keyFile, "alerts", "-n", "4"); code != exitOK ||
		!strings.Contains(out, "No open alerts.") {
		t.Fatalf("alerts --addr: exit %d, stderr %q\n%s", code, errOut, out)
	}
	if got := src.asked(); !slices.Equal(got, []int{4}) {
		t.Errorf("the daemon was asked for %v changes, want [4]", got)
	}

	code, out, errOut = dfsctl("status", "--addr", addr, "--cluster-key-file", otherFile)
	if code != exitError || out != "" || !strings.HasPrefix(errOut, "dfsctl: dfsd at "+addr+" refused the cluster key") {
		t.Fatalf("status --addr with the wrong key: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	t.Setenv(envKeyFile, keyFile)
	if code, _, errOut := dfsctl("nodes", "--addr", addr); code != exitOK {
		t.Fatalf("nodes --addr with $%s: exit %d, stderr %q", envKeyFile, code, errOut)
	}
	t.Setenv(envKeyFile, "")
	code, _, errOut = dfsctl("nodes", "--addr", addr)
	if code != exitError || !strings.Contains(errOut, "--cluster-key-file") {
		t.Fatalf("nodes --addr without a key: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = dfsctl("nodes", "--addr", addr, "--data", t.TempDir(), "--cluster-key-file", keyFile)
	if code != exitError || !strings.Contains(errOut, "not both") {
		t.Fatalf("nodes with --addr and --data: exit %d, stderr %q", code, errOut)
	}
	// An unprotected key file is refused, as dfsd refuses it.
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = dfsctl("nodes", "--addr", addr, "--cluster-key-file", keyFile)
	if code != exitError || !strings.Contains(errOut, "chmod 600") {
		t.Fatalf("nodes with a key file of mode 0644: exit %d, stderr %q", code, errOut)
	}
}

func TestAddrUnreachable(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(ts.URL, "http://")
	ts.Close()
	keyFile := writeKey(t, bytes.Repeat([]byte{1}, cluster.KeySize))
	code, _, errOut := dfsctl("status", "--addr", addr, "--cluster-key-file", keyFile)
	if want := "dfsctl: cannot reach dfsd at " + addr + ": connection refused"; code != exitError || !strings.HasPrefix(errOut, want) {
		t.Fatalf("status on a closed port: exit %d, stderr %q; want %q", code, errOut, want)
	}
}

func TestDataDirDefault(t *testing.T) {
	dir := daemon(t, healthy())
	t.Setenv(envData, dir)
	if code, _, errOut := dfsctl("status"); code != exitOK {
		t.Fatalf("status with $%s: exit %d, stderr %q", envData, code, errOut)
	}

	// Without $DFS_DATA: ./data when ./data/dfsd.sock exists.
	t.Setenv(envData, "")
	work := t.TempDir()
	if err := os.Symlink(dir, filepath.Join(work, "data")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	if code, _, errOut := dfsctl("nodes"); code != exitOK {
		t.Fatalf("nodes with ./data/dfsd.sock: exit %d, stderr %q", code, errOut)
	}

	// Else /var/lib/dfs.
	t.Chdir(t.TempDir())
	var g globals
	if got := g.dataDir(); got != defaultDataDir {
		t.Fatalf("data directory %q, want %q", got, defaultDataDir)
	}
}

func TestTimeout(t *testing.T) {
	dir := daemon(t, healthy())
	for _, d := range []string{"0s", "-1s", "soon"} {
		if code, _, errOut := dfsctl("status", "--data", dir, "--timeout", d); code != exitError || !strings.Contains(errOut, "timeout") {
			t.Errorf("--timeout %s: exit %d, stderr %q", d, code, errOut)
		}
	}
	if code, _, errOut := dfsctl("status", "--data", dir, "--timeout", "2s"); code != exitOK {
		t.Errorf("--timeout 2s: exit %d, stderr %q", code, errOut)
	}
}
