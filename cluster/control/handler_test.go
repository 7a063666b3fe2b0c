package control

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/peer"
)

func TestNewHandlerValidates(t *testing.T) {
	for _, cfg := range []HandlerConfig{
		{},
		{Key: testKey},
		{Source: newFakeSource(), Key: []byte{}},
		{Source: newFakeSource(), Key: []byte("short")},
	} {
		if _, err := NewHandler(cfg); err == nil {
			t.Errorf("NewHandler(%+v): no error", cfg)
		}
	}
	if _, err := NewHandler(HandlerConfig{Source: newFakeSource(), Key: testKey}); err != nil {
		t.Errorf("NewHandler with a key: %v", err)
	}
}

// do serves one request to h and returns the recorder.
func do(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// errorOf returns the sentence of a JSON error answer, failing the test
// when the answer is not one.
func errorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("error answer Content-Type %q", ct)
	}
	var eb errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error == "" {
		t.Fatalf("error answer %q is not {\"error\":...}: %v", w.Body, err)
	}
	return eb.Error
}

func TestHandlerRoutes(t *testing.T) {
	src := newFakeSource()
	h, err := NewHandler(HandlerConfig{Source: src})
	if err != nil {
		t.Fatal(err)
	}

	w := do(h, httptest.NewRequest("GET", "/v1/status", nil))
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/status: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	var st Status
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st, src.st) {
		t.Fatalf("GET /v1/status decoded to\n%+v\nwant\n%+v", st, src.st)
	}

	for _, tc := range []struct {
		query string
		n     int
	}{{"", DefaultAlerts}, {"?n=1", 1}, {"?n=20", 20}, {"?n=1000", 1000}, {"?x=1", DefaultAlerts}} {
		before := len(src.asked())
		w := do(h, httptest.NewRequest("GET", "/v1/alerts"+tc.query, nil))
		if w.Code != 200 {
			t.Fatalf("GET /v1/alerts%s: %d %s", tc.query, w.Code, w.Body)
		}
		var al AlertList
		if err := json.Unmarshal(w.Body.Bytes(), &al); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(al, src.al) {
			t.Fatalf("GET /v1/alerts%s decoded to %+v, want %+v", tc.query, al, src.al)
		}
		if got := src.asked()[before:]; !slices.Equal(got, []int{tc.n}) {
			t.Errorf("GET /v1/alerts%s asked the source for %v, want [%d]", tc.query, got, tc.n)
		}
	}

	for _, tc := range []struct {
		method, target string
		code           int
		want           string
	}{
		{"GET", "/v1/alerts?n=0", 400, "from 1 to 1000"},
		{"GET", "/v1/alerts?n=1001", 400, "from 1 to 1000"},
		{"GET", "/v1/alerts?n=-1", 400, "from 1 to 1000"},
		{"GET", "/v1/alerts?n=abc", 400, `not "abc"`},
		{"GET", "/v1/alerts?n=", 400, "from 1 to 1000"},
		{"GET", "/v1/alerts?n=1&n=2", 400, "once"},
		{"GET", "/v1/nope", 404, "no such route"},
		{"GET", "/v1/status/", 404, "no such route"},
		{"GET", "/", 404, "no such route"},
		{"POST", "/v1/status", 405, "not allowed"},
		{"DELETE", "/v1/alerts", 405, "not allowed"},
		{"HEAD", "/v1/status", 405, "not allowed"},
	} {
		n := len(src.asked())
		w := do(h, httptest.NewRequest(tc.method, tc.target, nil))
		if w.Code != tc.code {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.target, w.Code, tc.code)
			continue
		}
		if tc.method != "HEAD" {
			if msg := errorOf(t, w); !strings.Contains(msg, tc.want) {
				t.Errorf("%s %s: error %q, want it to contain %q", tc.method, tc.target, msg, tc.want)
			}
		}
		if tc.code == 405 && w.Header().Get("Allow") != "GET" {
			t.Errorf("%s %s: Allow %q, want GET", tc.method, tc.target, w.Header().Get("Allow"))
		}
		if len(src.asked()) != n {
			t.Errorf("%s %s reached the source", tc.method, tc.target)
		}
	}
}

func TestHandlerEmptyListsAreArrays(t *testing.T) {
	h, err := NewHandler(HandlerConfig{Source: &fakeSource{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ target, want string }{
		{"/v1/status", `"nodes":[]`},
		{"/v1/status", `"alerts":[]`},
		{"/v1/alerts", `"open":[]`},
		{"/v1/alerts", `"recent":[]`},
	} {
		w := do(h, httptest.NewRequest("GET", tc.target, nil))
		if w.Code != 200 || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("GET %s: %d %s, want it to contain %s", tc.target, w.Code, w.Body, tc.want)
		}
	}
}

// signed returns a GET request for target signed with key at now.
func signed(t *testing.T, target string, key []byte, now time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	if key != nil {
		if err := peer.Sign(r, key, nil, now); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestHandlerSignatures(t *testing.T) {
	now := t0
	var logs syncBuffer
	src := newFakeSource()
	h, err := NewHandler(HandlerConfig{
		Source: src,
		Key:    testKey,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Now:    func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	good := signed(t, "/v1/alerts?n=3", testKey, now)
	if w := do(h, good); w.Code != 200 {
		t.Fatalf("signed request: %d %s", w.Code, w.Body)
	}
	if got := src.asked(); !slices.Equal(got, []int{3}) {
		t.Fatalf("source asked for %v, want [3]", got)
	}
	if w := do(h, signed(t, "/v1/status", testKey, now)); w.Code != 200 {
		t.Fatalf("signed GET /v1/status: %d %s", w.Code, w.Body)
	}

	// The same request again, with the signature of another URI.
	altered := signed(t, "/v1/alerts?n=3", testKey, now)
	altered.URL.RawQuery, altered.RequestURI = "n=1000", "/v1/alerts?n=1000"

	for _, tc := range []struct {
		name string
		r    *http.Request
		want string
	}{
		{"unsigned", signed(t, "/v1/status", nil, now), "unsigned"},
		{"wrong key", signed(t, "/v1/status", otherKey, now), "bad signature"},
		{"altered query", altered, "bad signature"},
		{"replayed", good, "replayed"},
		{"old", signed(t, "/v1/status", testKey, now.Add(-time.Hour)), "off the local clock"},
		{"unknown route unsigned", signed(t, "/v1/nope", nil, now), "unsigned"},
	} {
		logs.mu.Lock()
		logs.b.Reset()
		logs.mu.Unlock()
		w := do(h, tc.r)
		if w.Code != 401 {
			t.Errorf("%s: status %d, want 401", tc.name, w.Code)
			continue
		}
		if msg := errorOf(t, w); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: error %q, want it to contain %q", tc.name, msg, tc.want)
		}
		if l := logs.String(); !strings.Contains(l, "control request refused") || !strings.Contains(l, tc.want) {
			t.Errorf("%s: logged %q", tc.name, l)
		}
		if strings.Contains(logs.String(), string(testKey)) {
			t.Errorf("%s: the key is in the log", tc.name)
		}
	}
	if got := src.asked(); len(got) != 1 {
		t.Fatalf("refused requests reached the source: %v", got)
	}
}

func TestHandlerBodyIgnored(t *testing.T) {
	h, err := NewHandler(HandlerConfig{Source: newFakeSource()})
	if err != nil {
		t.Fatal(err)
	}
	w := do(h, httptest.NewRequest("GET", "/v1/status", strings.NewReader("junk")))
	if b, _ := io.ReadAll(w.Body); w.Code != 200 || !strings.Contains(string(b), `"self":"n1"`) {
		t.Fatalf("GET with a body: %d %s", w.Code, b)
	}
}
