package statuspage

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:1234":        true,
		"127.45.3.9:1":          true,
		"[::1]:1234":            true,
		"[::ffff:127.0.0.1]:80": true,
		"[::1%lo]:80":           true,
		"10.0.0.1:1234":         false,
		"192.0.2.7:50000":       false,
		"[::2]:80":              false,
		"[::ffff:10.0.0.1]:80":  false,
		"128.0.0.1:80":          false,
		"127.0.0.1":             false, // no port: not a RemoteAddr
		"localhost:80":          false, // names are not addresses
		"":                      false,
		"@":                     false, // a unix socket's peer
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestSafeHost(t *testing.T) {
	for host, want := range map[string]bool{
		"":                   true,
		"127.0.0.1":          true,
		"127.0.0.1:7948":     true,
		"10.0.0.1:7948":      true,
		"[::1]:7948":         true,
		"[::1]":              true,
		"localhost":          true,
		"LOCALHOST:7948":     true,
		"localhost.:7948":    true,
		"dfs.localhost:7948": true,
		"evil.example:7948":  false,
		"evil.example":       false,
		"myhost:7948":        false,
		"localhost.evil.com": false,
		"127.0.0.1.nip.io":   false,
	} {
		if got := safeHost(host); got != want {
			t.Errorf("safeHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestLoopbackOnlyWithoutToken: with no token, this host reads the page
// and every other host gets a 403 that says how to let it in.
func TestLoopbackOnlyWithoutToken(t *testing.T) {
	h := newHandler(t, &fakeSource{st: degradedStatus()}, "")
	for _, path := range []string{"/", "/ui/status.json", "/ui/app.js", "/ui/style.css", "/nothing"} {
		for _, from := range []string{local, "[::1]:4000", "127.9.8.7:1"} {
			if w := serve(h, request(http.MethodGet, path, from)); w.Code == http.StatusForbidden {
				t.Errorf("GET %s from %s: 403 %s", path, from, w.Body)
			}
		}
		for _, from := range []string{remote, "[2001:db8::1]:4000", "10.1.2.3:5"} {
			r := request(http.MethodGet, path, from)
			// Whatever it claims.
			r.Header.Set("Authorization", "Bearer "+testToken)
			r.Header.Set("X-Forwarded-For", "127.0.0.1")
			w := serve(h, r)
			body := w.Body.String()
			if w.Code != http.StatusForbidden || !strings.Contains(body, "--status-token") ||
				strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") {
				t.Errorf("GET %s from %s: %d %q; want 403 and one line naming --status-token", path, from, w.Code, body)
			}
			if w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("403 Content-Type %q", w.Header().Get("Content-Type"))
			}
			checkSecurityHeaders(t, w.Header())
		}
	}
}

// TestRebindingRefused: a page of another site whose name now resolves
// to 127.0.0.1 reaches dfsd from loopback but with its own name as Host.
func TestRebindingRefused(t *testing.T) {
	for _, token := range []string{"", testToken} {
		h := newHandler(t, &fakeSource{st: degradedStatus()}, token)
		r := request(http.MethodGet, "/ui/status.json", local)
		r.Host = "evil.example:7948"
		w := serve(h, r)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "localhost") {
			t.Errorf("token %q: rebound request: %d %q; want 403 naming localhost", token, w.Code, w.Body)
		}
		r.Host = "localhost:7948"
		if w := serve(h, r); w.Code != http.StatusOK {
			t.Errorf("token %q: Host localhost: %d", token, w.Code)
		}
	}
	// The token still works whatever the Host.
	h := newHandler(t, &fakeSource{st: degradedStatus()}, testToken)
	r := request(http.MethodGet, "/ui/status.json", local)
	r.Host = "dfs-1.internal:7948"
	r.Header.Set("Authorization", "Bearer "+testToken)
	if w := serve(h, r); w.Code != http.StatusOK {
		t.Errorf("bearer from loopback under a DNS name: %d %s", w.Code, w.Body)
	}
}

func TestToken(t *testing.T) {
	var logs bytes.Buffer
	h, err := Handler(Config{Source: &fakeSource{st: degradedStatus()}, Token: testToken,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string, mod func(*http.Request)) *httptest.ResponseRecorder {
		r := request(http.MethodGet, path, remote)
		if mod != nil {
			mod(r)
		}
		return serve(h, r)
	}
	bearerAuth := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}

	t.Run("none", func(t *testing.T) {
		for _, path := range []string{"/", "/ui/status.json", "/ui/app.js"} {
			w := get(path, nil)
			if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "?token=TOKEN") {
				t.Errorf("GET %s without the token: %d %q", path, w.Code, w.Body)
			}
		}
	})
	t.Run("loopback", func(t *testing.T) {
		if w := serve(h, request(http.MethodGet, "/ui/status.json", local)); w.Code != http.StatusOK {
			t.Errorf("from loopback without the token: %d %s", w.Code, w.Body)
		}
	})
	t.Run("bearer", func(t *testing.T) {
		for _, path := range []string{"/", "/ui/status.json", "/ui/app.js", "/ui/style.css"} {
			if w := get(path, bearerAuth(testToken)); w.Code != http.StatusOK {
				t.Errorf("GET %s with the bearer token: %d %s", path, w.Code, w.Body)
			}
		}
		w := get("/ui/status.json", func(r *http.Request) { r.Header.Set("Authorization", "bearer  "+testToken) })
		if w.Code != http.StatusOK {
			t.Errorf("lower-case scheme, two spaces: %d", w.Code)
		}
	})
	t.Run("wrong", func(t *testing.T) {
		logs.Reset()
		for name, mod := range map[string]func(*http.Request){
			"bearer":        bearerAuth(testToken + "x"),
			"prefix":        bearerAuth(testToken[:len(testToken)-1]),
			"empty bearer":  bearerAuth(""),
			"basic":         func(r *http.Request) { r.SetBasicAuth("dfs", testToken) },
			"token scheme":  func(r *http.Request) { r.Header.Set("Authorization", testToken) },
			"cookie":        func(r *http.Request) { r.AddCookie(&http.Cookie{Name: cookieName, Value: testToken}) },
			"query on json": func(r *http.Request) { r.URL.RawQuery = "token=" + testToken },
		} {
			path := "/ui/status.json"
			w := get(path, mod)
			if w.Code != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", name, w.Code)
			}
		}
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "192.0.2.7") {
			t.Errorf("wrong tokens were not logged at Warn with the remote address:\n%s", logs.String())
		}
		if strings.Contains(logs.String(), testToken[:10]) {
			t.Errorf("the log holds the token:\n%s", logs.String())
		}
		if w := get("/?token=nope", nil); w.Code != http.StatusForbidden || w.Header().Get("Set-Cookie") != "" ||
			!strings.Contains(w.Body.String(), "wrong status token") {
			t.Errorf("wrong ?token=: %d, Set-Cookie %q, %q", w.Code, w.Header().Get("Set-Cookie"), w.Body)
		}
	})
	t.Run("query sets cookie", func(t *testing.T) {
		w := get("/?token="+testToken, nil)
		if w.Code != http.StatusOK || w.Body.String() != string(pageAsset.body) {
			t.Fatalf("GET /?token=: %d", w.Code)
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("the page that sets the cookie has Cache-Control %q", cc)
		}
		cookies := w.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("Set-Cookie %q: want one cookie", w.Header().Values("Set-Cookie"))
		}
		c := cookies[0]
		if c.Name != cookieName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
			t.Errorf("cookie %+v: want %s, HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", c, cookieName)
		}
		if strings.Contains(c.Value, testToken) {
			t.Errorf("the cookie holds the token itself: %q", c.Value)
		}
		// The page's own requests carry the cookie, and get in.
		for _, path := range []string{"/ui/status.json", "/ui/app.js", "/"} {
			w := get(path, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value}) })
			if w.Code != http.StatusOK {
				t.Errorf("GET %s with the cookie: %d %s", path, w.Code, w.Body)
			}
			if w.Header().Get("Set-Cookie") != "" {
				t.Errorf("GET %s with the cookie sets it again", path)
			}
		}
		// A cookie made for another token does not.
		other := newTokenCheck(testToken + "-other").cookie
		w = get("/ui/status.json", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: cookieName, Value: other}) })
		if w.Code != http.StatusForbidden {
			t.Errorf("a cookie for another token: %d", w.Code)
		}
		// From loopback, ?token= sets the cookie too, for the same link
		// to work everywhere.
		if w := serve(h, request(http.MethodGet, "/?token="+testToken, local)); len(w.Result().Cookies()) != 1 {
			t.Errorf("from loopback, ?token= set no cookie")
		}
	})
	t.Run("https", func(t *testing.T) {
		r := request(http.MethodGet, "/?token="+testToken, remote)
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
		w := serve(h, r)
		if cs := w.Result().Cookies(); len(cs) != 1 || !cs[0].Secure {
			t.Errorf("over TLS the cookie is not Secure: %q", w.Header().Values("Set-Cookie"))
		}
	})
}
