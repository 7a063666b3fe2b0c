package alerts

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitTimeout is generous: the test machine may be loaded.
const waitTimeout = 30 * time.Second

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// record is one captured log line, attributes flattened to strings
// (groups as "group.key").
type record struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// logCapture is a slog.Handler that keeps every record.
type logCapture struct {
	mu   sync.Mutex
	recs []record
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCapture) WithAttrs([]slog.Attr) slog.Handler       { panic("not used by package alerts") }
func (c *logCapture) WithGroup(string) slog.Handler            { panic("not used by package alerts") }

func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	rec := record{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	var add func(prefix string, a slog.Attr)
	add = func(prefix string, a slog.Attr) {
		if a.Value.Kind() == slog.KindGroup {
			for _, g := range a.Value.Group() {
				add(prefix+a.Key+".", g)
			}
			return
		}
		rec.attrs[prefix+a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool { add("", a); return true })
	c.mu.Lock()
	c.recs = append(c.recs, rec)
	c.mu.Unlock()
	return nil
}

// find returns the records with message msg.
func (c *logCapture) find(msg string) []record {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []record
	for _, r := range c.recs {
		if r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}

func (c *logCapture) all() []record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]record(nil), c.recs...)
}

// request is one POST a receiver got.
type request struct {
	header   http.Header
	body     []byte
	ev       Event
	verified error // VerifyRequest's verdict
}

// receiver is a webhook test server. reply chooses the status of the n-th
// request (from 1); nil means 200.
type receiver struct {
	*httptest.Server
	key   []byte
	reply func(n int) int

	mu   sync.Mutex
	reqs []request
}

func newReceiver(t *testing.T, key []byte, reply func(n int) int) *receiver {
	rc := &receiver{key: key, reply: reply}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := request{header: r.Header.Clone(), body: body}
	req.verified = VerifyRequest(rc.key, r.Header, body, time.Now(), time.Minute)
	if err := json.Unmarshal(body, &req.ev); err != nil {
		req.ev = Event{}
	}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, req)
	n := len(rc.reqs)
	rc.mu.Unlock()
	code := http.StatusOK
	if rc.reply != nil {
		code = rc.reply(n)
	}
	w.WriteHeader(code)
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

func (rc *receiver) count() int { return len(rc.requests()) }

var testKey = []byte("test webhook key")

// testConfig is DefaultTestConfig posting to urls, logging into a new
// logCapture.
func testConfig(urls ...string) (Config, *logCapture) {
	logs := &logCapture{}
	cfg := DefaultTestConfig()
	cfg.Cluster = "testcluster"
	cfg.Node = "n1"
	cfg.Webhooks = urls
	cfg.Key = testKey
	cfg.Logger = slog.New(logs)
	return cfg, logs
}

// newManager makes a Manager closed at the end of the test.
func newManager(t *testing.T, cfg Config) *Manager {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

// start runs m until the end of the test, and checks that Run returns nil.
func start(t *testing.T, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	eventually(t, "Run to start", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.running
	})
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Run did not return after its context was cancelled")
		}
	})
}

// noSecret fails if any log line mentions s.
func noSecret(t *testing.T, logs *logCapture, s string) {
	t.Helper()
	for _, r := range logs.all() {
		for k, v := range r.attrs {
			if strings.Contains(v, s) {
				t.Errorf("log %q attribute %s=%q leaks %q", r.msg, k, v, s)
			}
		}
	}
}
