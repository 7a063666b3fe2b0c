package statuspage

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/dfsproject/dfs/cmd/dfsd/statuspage/browsertest"
)

// These tests load the page in headless Chromium (skipped without one)
// and read the DOM its script built.

// load loads url and fails t on any console message: a script error or
// something the Content-Security-Policy refused.
func load(t *testing.T, url string) string {
	t.Helper()
	p := browsertest.Load(t, url, 0)
	if msgs := p.Console(); len(msgs) > 0 {
		t.Errorf("the page logged:\n%s", strings.Join(msgs, "\n"))
	}
	t.Logf("chromium loaded %s in %v", url, p.Took.Round(1e6))
	return p.DOM
}

// text returns the text of the element with attr="value", failing t
// when there is none.
func text(t *testing.T, dom, tag, attr, value string) string {
	t.Helper()
	inner, ok := browsertest.Element(dom, tag, attr, value)
	if !ok {
		t.Fatalf("no <%s %s=%q> in the page:\n%s", tag, attr, value, dom)
	}
	return browsertest.Text(inner)
}

func TestBrowserShowsStatus(t *testing.T) {
	browsertest.Require(t)
	srv := httptest.NewServer(newHandler(t, &fakeSource{st: degradedStatus()}, ""))
	defer srv.Close()
	dom := load(t, srv.URL+"/")

	if got := text(t, dom, "p", "id", "health"); got != "DEGRADED" {
		t.Errorf("health line %q, want DEGRADED", got)
	}
	if got := text(t, dom, "ul", "id", "reasons"); got != "n3 is dead since 16:30:02 (1m0s)" {
		t.Errorf("reasons %q", got)
	}
	if got := text(t, dom, "span", "id", "cluster"); got != "prod" {
		t.Errorf("cluster name %q", got)
	}
	for _, tc := range []struct{ node, want, class string }{
		{"n1", "n1 (this node) alive active 10.0.0.1:7946 a 25 GiB / 100 GiB (25%) this node", "state-alive"},
		{"n2", "n2 alive draining 10.0.0.2:7946 b 95 GiB / 100 GiB (95%) 1 s ago", "state-alive"},
		{"n3", "n3 dead active 10.0.0.3:7946 — unknown 1 min 0 s ago", "state-dead"},
	} {
		row, _ := browsertest.Element(dom, "tr", "data-node", tc.node)
		if got := text(t, dom, "tr", "data-node", tc.node); got != tc.want {
			t.Errorf("row of %s: %q, want %q", tc.node, got, tc.want)
		}
		if !strings.Contains(row, `class="state `+tc.class+`"`) {
			t.Errorf("the state of %s is not colored as %s: %s", tc.node, tc.class, row)
		}
	}
	if row, _ := browsertest.Element(dom, "tr", "data-node", "n2"); !strings.Contains(row, `class="fill fill-high" style="width: 95%;"`) {
		t.Errorf("n2's capacity bar is not 95%% full and red: %s", row)
	}
	if got := text(t, dom, "p", "id", "raft"); !strings.HasPrefix(got, "leader n1 · term 4 · voters n1, n2, n3 · layout version 7 · 3 replicas per chunk") {
		t.Errorf("Raft line %q", got)
	}
	if got := text(t, dom, "tr", "data-alert", "peer_dead/n3"); got != "16:30:02 critical peer_dead n3 addr=10.0.0.3:7946" &&
		!strings.HasSuffix(got, " critical peer_dead n3 addr=10.0.0.3:7946") {
		t.Errorf("alert row %q", got)
	}
	if got := text(t, dom, "span", "id", "refreshed"); !strings.HasPrefix(got, "refreshed at ") {
		t.Errorf("refresh time %q", got)
	}
	if !strings.Contains(dom, `<p id="conn" class="conn" hidden="">`) {
		t.Errorf("the connection warning shows")
	}
}

// TestBrowserEscapes: names with markup show as text; nothing in them
// runs or becomes an element.
func TestBrowserEscapes(t *testing.T) {
	browsertest.Require(t)
	const script = `<script>document.title="PWNED"</script>`
	const img = `<img src=x onerror="document.title='PWNED'">`
	st := degradedStatus()
	st.Cluster = `<b id="injected">bold</b>`
	st.Nodes[0].Name = script
	st.Nodes[1].Name = img
	st.Nodes[1].State = `alive" onmouseover="x`
	st.Nodes[1].Addr = `"><svg onload=alert(1)>`
	st.Reasons = []string{img}
	st.Alerts[0].Details = map[string]string{"a": script}
	st.Raft.Leader = img
	srv := httptest.NewServer(newHandler(t, &fakeSource{st: st}, ""))
	defer srv.Close()
	dom := load(t, srv.URL+"/")

	body := dom[strings.Index(dom, "<body"):]
	// In text, < is &lt;; an attribute value never gets out of its quotes.
	for _, bad := range []string{"<img", "<svg", `<b id="injected"`, `onmouseover="x"`} {
		if strings.Contains(body, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	if strings.Count(body, "<script") != 0 {
		t.Errorf("the body holds a script element:\n%s", body)
	}
	if strings.Contains(dom, "<title>PWNED") {
		t.Errorf("an injected script ran")
	}
	for _, want := range []string{
		`<td class="name">&lt;script&gt;document.title="PWNED"&lt;/script&gt;<span`,
		`<td class="name">&lt;img src=x onerror="document.title='PWNED'"&gt;</td>`,
		`<td class="state state-unknown">alive" onmouseover="x</td>`,
		`<span id="cluster">&lt;b id="injected"&gt;bold&lt;/b&gt;</span>`,
		`<li>&lt;img src=x onerror="document.title='PWNED'"&gt;</li>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page does not show as text: %s\n%s", want, body)
		}
	}
}

// TestBrowserCannotReach: when a refresh fails the page says so and
// keeps the last status it had.
func TestBrowserCannotReach(t *testing.T) {
	browsertest.Require(t)
	h := newHandler(t, &fakeSource{st: degradedStatus()}, "")
	var mu sync.Mutex
	fetches := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == statusPath {
			mu.Lock()
			fetches++
			n := fetches
			mu.Unlock()
			if n > 1 {
				// dfsd went away: the connection drops.
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	dom := load(t, srv.URL+"/")
	mu.Lock()
	if fetches < 2 {
		t.Errorf("the page fetched the status %d times in 5 s, want a refresh every 2 s", fetches)
	}
	mu.Unlock()
	conn, ok := browsertest.Element(dom, "p", "id", "conn")
	if !ok || !strings.HasPrefix(browsertest.Text(conn), "cannot reach dfsd") || strings.Contains(dom, `id="conn" class="conn" hidden`) {
		t.Errorf("the page does not say it cannot reach dfsd: %q", conn)
	}
	if !strings.Contains(browsertest.Text(conn), "showing the status of") {
		t.Errorf("the warning does not say how old the status is: %q", browsertest.Text(conn))
	}
	if got := text(t, dom, "tr", "data-node", "n3"); !strings.HasPrefix(got, "n3 dead") {
		t.Errorf("the last status is gone: row n3 %q", got)
	}
	if !strings.Contains(dom, `<body class="stale">`) {
		t.Errorf("the stale status is not marked")
	}
}

// TestBrowserToken: another host opens /?token=...; the cookie it gets
// lets the page's script and fetches in, and the token goes nowhere else.
func TestBrowserToken(t *testing.T) {
	browsertest.Require(t)
	h := newHandler(t, &fakeSource{st: degradedStatus()}, testToken)
	var mu sync.Mutex
	var seen []string // "path cookie? referer"
	refuse := false   // refuse the status from now on, as for a changed token
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = remote // as if from another host
		mu.Lock()
		_, err := r.Cookie(cookieName)
		seen = append(seen, r.URL.Path+" cookie="+map[bool]string{true: "yes", false: "no"}[err == nil]+" referer="+r.Referer())
		if refuse && r.URL.Path == statusPath {
			r.Header.Del("Cookie")
		}
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	requests := func() []string {
		mu.Lock()
		defer mu.Unlock()
		s := seen
		seen = nil
		return s
	}

	t.Run("no token", func(t *testing.T) {
		dom := load403(t, srv.URL+"/")
		if !strings.Contains(dom, "needs dfsd's status token") {
			t.Errorf("without the token: %s", dom)
		}
		requests()
	})
	t.Run("wrong token", func(t *testing.T) {
		if dom := load403(t, srv.URL+"/?token=guess"); !strings.Contains(dom, "wrong status token") {
			t.Errorf("with a wrong token: %s", dom)
		}
		requests()
	})
	t.Run("token", func(t *testing.T) {
		dom := load(t, srv.URL+"/?token="+testToken)
		if got := text(t, dom, "p", "id", "health"); got != "DEGRADED" {
			t.Errorf("health %q: the page did not get the status", got)
		}
		reqs := requests()
		status := 0
		for _, r := range reqs {
			if strings.Contains(r, testToken) {
				t.Errorf("the token was sent again: %s", r)
			}
			if strings.HasPrefix(r, "/ui/") && !strings.Contains(r, "cookie=yes") {
				t.Errorf("a request of the page has no cookie: %s", r)
			}
			if strings.HasPrefix(r, statusPath) {
				status++
			}
		}
		if status < 2 {
			t.Errorf("%d fetches of the status in 5 s: %q", status, reqs)
		}
	})
	t.Run("refused later", func(t *testing.T) {
		// A 403 stops the refreshes: polling cannot fix it.
		mu.Lock()
		refuse = true
		mu.Unlock()
		dom := load(t, srv.URL+"/?token="+testToken)
		status := 0
		for _, r := range requests() {
			if strings.HasPrefix(r, statusPath) {
				status++
			}
		}
		if status != 1 {
			t.Errorf("%d fetches of the status after a 403, want 1", status)
		}
		if got := text(t, dom, "p", "id", "conn"); !strings.HasPrefix(got, "access refused: this status page needs dfsd's status token") ||
			!strings.Contains(got, "stopped refreshing") {
			t.Errorf("the page says %q", got)
		}
	})
}

// load403 loads a page that is refused: Chromium shows the text.
func load403(t *testing.T, url string) string {
	t.Helper()
	return browsertest.Text(browsertest.Load(t, url, 0).DOM)
}

// TestBrowserPolicyEnforced: the page's Content-Security-Policy stops
// inline script, inline style and other origins in Chromium, and
// Console sees the refusals (so that load's check for no console
// messages means something).
func TestBrowserPolicyEnforced(t *testing.T) {
	browsertest.Require(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><html><body><p style="color:red">x</p>` +
			`<script>document.body.append("INLINE RAN")</script><img src="http://192.0.2.1/x.png"></body></html>`))
	}))
	defer srv.Close()
	p := browsertest.Load(t, srv.URL+"/", 0)
	if strings.Contains(p.DOM, "INLINE RAN</body>") {
		t.Error("an inline script ran under the policy")
	}
	log := strings.Join(p.Console(), "\n")
	for _, want := range []string{"Executing inline script violates", "Applying inline style violates", "Loading the image 'http://192.0.2.1/x.png' violates"} {
		if !strings.Contains(log, want) {
			t.Errorf("no console message %q; console:\n%s", want, log)
		}
	}
}
