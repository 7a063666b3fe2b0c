package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/control"
	"github.com/dfsproject/dfs/cmd/dfsd/statuspage/browsertest"
	"github.com/dfsproject/dfs/fs/fstest"
)

// TestStatusTokenFlag: the token comes from --status-token, else from
// $DFS_STATUS_TOKEN, and --print-config never prints the environment's.
func TestStatusTokenFlag(t *testing.T) {
	const flagToken, envToken = "flag-token-0123456789", "env-token-0123456789"
	t.Setenv("DFS_STATUS_TOKEN", "")
	if c := parse(t, "--data", "/d"); c.statusToken != "" {
		t.Errorf("no flag, no environment: token %q", c.statusToken)
	}
	t.Setenv("DFS_STATUS_TOKEN", envToken)
	if c := parse(t, "--data", "/d"); c.statusToken != envToken {
		t.Errorf("from the environment: token %q, want %q", c.statusToken, envToken)
	}
	if c := parse(t, "--data", "/d", "--status-token", flagToken); c.statusToken != flagToken {
		t.Errorf("the flag does not override the environment: token %q", c.statusToken)
	}
	if out := printed(t, "--data", "/d"); strings.Contains(out, envToken) {
		t.Errorf("--print-config printed $DFS_STATUS_TOKEN:\n%s", out)
	}
}

// fetchURL fetches url and returns the status, Content-Type and body.
func fetchURL(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestStatusPageBrowser loads a live node's status page in headless
// Chromium, kills another node, and loads it again.
func TestStatusPageBrowser(t *testing.T) {
	browsertest.Require(t)
	c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 3})
	base := "http://" + c.Addrs[0].HTTP()

	// The routes share the HTTP address with the APIs.
	if code, ctype, body := fetchURL(t, base+"/"); code != http.StatusOK || ctype != "text/html; charset=utf-8" {
		t.Fatalf("GET %s/: %d %q %.200s (is the status page mounted on \"/\" in startHTTP?)", base, code, ctype, strings.TrimSpace(body))
	}
	code, ctype, body := fetchURL(t, base+"/ui/status.json")
	var st control.Status
	if code != http.StatusOK || ctype != "application/json" || json.Unmarshal([]byte(body), &st) != nil || len(st.Nodes) != 3 {
		t.Fatalf("GET /ui/status.json: %d %q %.300s", code, ctype, body)
	}
	if code, _, _ := fetchURL(t, base+"/v1/status"); code != http.StatusUnauthorized {
		t.Errorf("unsigned GET /v1/status: %d, want 401 (the control API stays signed)", code)
	}
	if code, _, _ := fetchURL(t, base+"/metrics"); code != http.StatusOK {
		t.Errorf("GET /metrics: %d", code)
	}
	if code, _, _ := fetchURL(t, base+"/no-such-page"); code != http.StatusNotFound {
		t.Errorf("GET /no-such-page: %d, want 404", code)
	}

	// page loads the page and returns its DOM, with the text of the
	// health line and of each node's row.
	page := func() (dom, health string, rows map[string]string) {
		t.Helper()
		p := browsertest.Load(t, base+"/", 3*time.Second)
		if msgs := p.Console(); len(msgs) > 0 {
			t.Errorf("the page logged:\n%s", strings.Join(msgs, "\n"))
		}
		t.Logf("chromium loaded %s/ in %v", base, p.Took.Round(time.Millisecond))
		h, ok := browsertest.Element(p.DOM, "p", "id", "health")
		if !ok {
			t.Fatalf("no health line in the page:\n%s", p.DOM)
		}
		rows = map[string]string{}
		for i := range c.Nodes {
			if row, ok := browsertest.Element(p.DOM, "tr", "data-node", fstest.Name(i)); ok {
				rows[fstest.Name(i)] = browsertest.Text(row)
			}
		}
		return p.DOM, browsertest.Text(h), rows
	}
	// state is the State column of a row's text: "n1 (this node) alive ...".
	state := func(row string) string {
		f := strings.Fields(strings.Replace(row, " (this node)", "", 1))
		if len(f) < 2 {
			return ""
		}
		return f[1]
	}

	dom, health, rows := page()
	if health != "healthy" {
		t.Errorf("health line %q, want healthy", health)
	}
	for i := range c.Nodes {
		if name := fstest.Name(i); state(rows[name]) != "alive" {
			t.Errorf("%s: row %q, want it alive", name, rows[name])
		}
	}
	if !strings.Contains(rows["n1"], "(this node)") {
		t.Errorf("n1's row does not say it is the node answering: %q", rows["n1"])
	}
	if raft, ok := browsertest.Element(dom, "p", "id", "raft"); !ok || !strings.HasPrefix(browsertest.Text(raft), "leader n") {
		t.Errorf("Raft line %q", browsertest.Text(raft))
	}
	if !strings.Contains(dom, `<p id="no-alerts" class="muted">none</p>`) {
		t.Errorf("a healthy cluster shows alerts")
	}

	c.Nodes[2].Kill9(t)
	c.WaitStates(t, 15*time.Second, []int{0, 1}, "n1=alive n2=alive n3=dead")
	fstest.Eventually(t, 10*time.Second, "n1 has the peer_dead alert for n3", func() error {
		for _, a := range c.Status(t, 0).Alerts {
			if a.Kind == "peer_dead" && a.Node == "n3" {
				return nil
			}
		}
		return fmt.Errorf("open alerts: %+v", c.Status(t, 0).Alerts)
	})

	dom, health, rows = page()
	if health != "DEGRADED" {
		t.Errorf("health line %q, want DEGRADED", health)
	}
	if reasons, _ := browsertest.Element(dom, "ul", "id", "reasons"); !strings.Contains(browsertest.Text(reasons), "n3 is dead since") {
		t.Errorf("reasons %q do not say n3 is dead", browsertest.Text(reasons))
	}
	for name, want := range map[string]string{"n1": "alive", "n2": "alive", "n3": "dead"} {
		if got := state(rows[name]); got != want {
			t.Errorf("%s: row %q, want it %s", name, rows[name], want)
		}
	}
	if row, _ := browsertest.Element(dom, "tr", "data-node", "n3"); !strings.Contains(row, `class="state state-dead"`) {
		t.Errorf("n3's state is not colored dead: %s", row)
	}
	alert, ok := browsertest.Element(dom, "tr", "data-alert", "peer_dead/n3")
	if !ok || !strings.Contains(browsertest.Text(alert), "critical peer_dead n3") {
		t.Errorf("no open peer_dead alert for n3 in the page: %q", browsertest.Text(alert))
	}
}
