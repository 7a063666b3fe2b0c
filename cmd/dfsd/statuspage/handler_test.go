package statuspage

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/dfsproject/dfs/alerts"
	"github.com/dfsproject/dfs/cluster/control"
)

func TestHandlerValidates(t *testing.T) {
	src := &fakeSource{}
	for _, cfg := range []Config{
		{},
		{Token: testToken},
		{Source: src, Token: "short"},
		{Source: src, Token: strings.Repeat("x", MaxTokenLen+1)},
		{Source: src, Token: "0123456789abcdef with space"},
		{Source: src, Token: "0123456789abcdef\n"},
		{Source: src, Token: "0123456789abcdefé"},
	} {
		if _, err := Handler(cfg); err == nil {
			t.Errorf("Handler(%+v): no error", cfg)
		}
	}
	for _, token := range []string{"", testToken, strings.Repeat("x", MinTokenLen), "!#$%&'()*+,-./:;<=>?@[]^_`{|}~"} {
		if _, err := Handler(Config{Source: src, Token: token}); err != nil {
			t.Errorf("Handler with token %q: %v", token, err)
		}
	}
}

func TestRoutes(t *testing.T) {
	h := newHandler(t, &fakeSource{st: degradedStatus()}, "")
	for _, tc := range []struct {
		path, ctype, cache string
		body               []byte // nil: not compared
	}{
		{"/", "text/html; charset=utf-8", "no-store", pageAsset.body},
		{"/ui/app.js", "text/javascript; charset=utf-8", "no-cache", scriptAsset.body},
		{"/ui/style.css", "text/css; charset=utf-8", "no-cache", styleAsset.body},
		{"/ui/status.json", "application/json", "no-store", nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				w := serve(h, request(method, tc.path, local))
				if w.Code != http.StatusOK {
					t.Fatalf("%s %s: %d %s", method, tc.path, w.Code, w.Body)
				}
				hdr := w.Header()
				if got := hdr.Get("Content-Type"); got != tc.ctype {
					t.Errorf("%s %s: Content-Type %q, want %q", method, tc.path, got, tc.ctype)
				}
				if got := hdr.Get("Cache-Control"); got != tc.cache {
					t.Errorf("%s %s: Cache-Control %q, want %q", method, tc.path, got, tc.cache)
				}
				checkSecurityHeaders(t, w.Header())
				if method == http.MethodHead && w.Body.Len() > 0 {
					t.Errorf("HEAD %s has a body of %d bytes", tc.path, w.Body.Len())
				}
				if method == http.MethodGet && tc.body != nil && w.Body.String() != string(tc.body) {
					t.Errorf("GET %s is not the embedded file", tc.path)
				}
			}
		})
	}
}

func checkSecurityHeaders(t *testing.T, hdr http.Header) {
	t.Helper()
	csp := hdr.Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, "default-src 'self';") || strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if got := hdr.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", got)
	}
	if got := hdr.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q", got)
	}
}

func TestAssetsRevalidate(t *testing.T) {
	h := newHandler(t, &fakeSource{}, "")
	w := serve(h, request(http.MethodGet, "/ui/app.js", local))
	etag := w.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on /ui/app.js")
	}
	r := request(http.MethodGet, "/ui/app.js", local)
	r.Header.Set("If-None-Match", etag)
	if w := serve(h, r); w.Code != http.StatusNotModified || w.Body.Len() > 0 {
		t.Errorf("If-None-Match %s: %d with %d bytes, want 304 and none", etag, w.Code, w.Body.Len())
	}
}

func TestStatusJSON(t *testing.T) {
	src := &fakeSource{st: degradedStatus()}
	h := newHandler(t, src, "")
	get := func() control.Status {
		t.Helper()
		w := serve(h, request(http.MethodGet, "/ui/status.json", local))
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("GET /ui/status.json: %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		var st control.Status
		dec := json.NewDecoder(w.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&st); err != nil {
			t.Fatalf("decode %s: %v", w.Body, err)
		}
		return st
	}
	if got, want := get(), src.Status(); !reflect.DeepEqual(got, want) {
		t.Errorf("status.json is not the source's status:\n got %+v\nwant %+v", got, want)
	}
	// Each request asks the source again.
	healthy := degradedStatus()
	healthy.Health, healthy.Reasons, healthy.Alerts = control.Healthy, nil, []alerts.Event{}
	healthy.Nodes[2].State = "alive"
	src.set(healthy)
	if got := get(); !reflect.DeepEqual(got, healthy) {
		t.Errorf("after a change: got %+v\nwant %+v", got, healthy)
	}
	// Empty lists are [], not null, for the page's script.
	src.set(control.Status{Cluster: "c", Health: control.Healthy, Time: t0})
	w := serve(h, request(http.MethodGet, "/ui/status.json", local))
	if !strings.Contains(w.Body.String(), `"nodes":[]`) || !strings.Contains(w.Body.String(), `"alerts":[]`) {
		t.Errorf("empty status: %s", w.Body)
	}
}

// TestStatusJSONHoldsNoMarkup: names from the cluster are data. The JSON
// escapes <, > and &, and the page's script puts data in the page only as
// text (browser_test.go checks what a browser makes of it).
func TestStatusJSONHoldsNoMarkup(t *testing.T) {
	const evil = `<script>alert("x")</script><img src=x onerror=alert(1)>&amp;`
	st := degradedStatus()
	st.Cluster = evil
	st.Nodes[0].Name = evil
	st.Reasons = []string{evil}
	st.Alerts[0].Details = map[string]string{evil: evil}
	h := newHandler(t, &fakeSource{st: st}, "")
	w := serve(h, request(http.MethodGet, "/ui/status.json", local))
	body := w.Body.String()
	if strings.ContainsAny(body, "<>") || strings.Contains(body, "&amp;") {
		t.Errorf("status.json holds markup characters: %s", body)
	}
	var got control.Status
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Nodes[0].Name != evil || got.Cluster != evil {
		t.Errorf("the names do not read back: %v, %+v", err, got)
	}
}

// TestPageHoldsNoData: the page and its assets are the embedded files,
// the same for every request: nothing from the cluster is ever put in
// markup on the server.
func TestPageHoldsNoData(t *testing.T) {
	st := degradedStatus()
	st.Cluster, st.Nodes[0].Name = "cluster-marker-1", "node-marker-2"
	h := newHandler(t, &fakeSource{st: st}, "")
	for _, a := range []asset{pageAsset, scriptAsset, styleAsset} {
		path := "/ui/" + a.name
		if a.name == pageAsset.name {
			path = "/"
		}
		body := serve(h, request(http.MethodGet, path, local)).Body.String()
		if body != string(a.body) || strings.Contains(body, "marker") {
			t.Errorf("%s is not the embedded %s, or holds data", path, a.name)
		}
	}
	page := string(pageAsset.body)
	// One script, app.js, and no inline script or style, no handler
	// attributes, nothing from elsewhere: the policy would refuse them.
	if n := strings.Count(page, "<script"); n != 1 || !strings.Contains(page, `<script src="ui/app.js" defer></script>`) {
		t.Errorf("the page has %d script elements; want one, <script src=\"ui/app.js\" defer></script>", n)
	}
	for _, re := range []string{`\son[a-z]+=`, `<style`, `\sstyle=`, `(?:src|href)="(?:[a-z]+:)?//`, `@import`, `url\(`, `@font-face`} {
		for _, body := range []string{page, string(styleAsset.body)} {
			if m := regexp.MustCompile(re).FindString(body); m != "" {
				t.Errorf("an asset has %q (matching %s)", m, re)
			}
		}
	}
	// The script builds the page from data only through the DOM's text
	// and attribute setters, never by parsing markup.
	js := string(scriptAsset.body)
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
		"Function(", "DOMParser", "createContextualFragment", "srcdoc", "setAttribute(\"on"} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
	for _, want := range []string{"textContent", `fetch(statusURL`, `"ui/status.json"`, "cannot reach dfsd", "refreshMs = 2000"} {
		if !strings.Contains(js, want) {
			t.Errorf("app.js lacks %q", want)
		}
	}
}

func TestReadOnly(t *testing.T) {
	h := newHandler(t, &fakeSource{st: degradedStatus()}, testToken)
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "PROPFIND"} {
		for _, path := range []string{"/", "/ui/status.json", "/ui/app.js"} {
			w := serve(h, request(method, path, local))
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d, Allow %q; want 405 and GET, HEAD", method, path, w.Code, w.Header().Get("Allow"))
			}
			// Refused hosts learn nothing more than for a GET.
			if w := serve(h, request(method, path, remote)); w.Code != http.StatusForbidden {
				t.Errorf("%s %s from another host without the token: %d, want 403", method, path, w.Code)
			}
		}
	}
}

func TestNotFound(t *testing.T) {
	h := newHandler(t, &fakeSource{}, "")
	for _, path := range []string{"/index.html", "/ui/", "/ui/other.js", "/ui/status.json/x", "/favicon.ico", "/v1/status", "/metrics"} {
		w := serve(h, request(http.MethodGet, path, local))
		if w.Code != http.StatusNotFound || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("GET %s: %d %q, want 404 text", path, w.Code, w.Header().Get("Content-Type"))
		}
	}
}
