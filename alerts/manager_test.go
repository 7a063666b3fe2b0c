package alerts

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDelivery checks that a firing and its resolution each reach the
// webhook once, signed, in the documented format.
func TestDelivery(t *testing.T) {
	rc := newReceiver(t, testKey, nil)
	cfg, logs := testConfig(rc.URL + "/hook")
	m := newManager(t, cfg)
	m.SetSender(true)
	start(t, m)

	if !m.Fire(PeerDead, "n2", map[string]string{"addr": "127.0.0.1:7946"}) {
		t.Fatal("Fire of a new alert reported no state change")
	}
	eventually(t, "the firing POST", func() bool { return rc.count() == 1 })
	if !m.Resolve(PeerDead, "n2", map[string]string{"reason": "rejoined"}) {
		t.Fatal("Resolve of an open alert reported no state change")
	}
	eventually(t, "the resolved POST", func() bool { return rc.count() == 2 })
	m.Close()

	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("webhook got %d POSTs, want 2", len(reqs))
	}
	for i, want := range []struct {
		status, severity string
		details          map[string]string
	}{
		{"firing", "critical", map[string]string{"addr": "127.0.0.1:7946"}},
		{"resolved", "critical", map[string]string{"reason": "rejoined"}},
	} {
		r := reqs[i]
		if r.verified != nil {
			t.Errorf("POST %d: %v", i, r.verified)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("POST %d: Content-Type %q", i, ct)
		}
		ts, err := strconv.ParseInt(r.header.Get(HeaderTimestamp), 10, 64)
		if err != nil || !Verify(testKey, ts, r.body, r.header.Get(HeaderSignature)) {
			t.Errorf("POST %d: signature %q does not verify with timestamp %q", i,
				r.header.Get(HeaderSignature), r.header.Get(HeaderTimestamp))
		}
		if Verify([]byte("another key"), ts, r.body, r.header.Get(HeaderSignature)) {
			t.Errorf("POST %d: signature verifies with the wrong key", i)
		}
		if id := r.header.Get(HeaderEventID); id == "" || id != r.ev.ID {
			t.Errorf("POST %d: %s %q, body id %q", i, HeaderEventID, id, r.ev.ID)
		}
		// The exact JSON fields, decoded generically.
		var raw map[string]any
		if err := json.Unmarshal(r.body, &raw); err != nil {
			t.Fatalf("POST %d: body %s: %v", i, r.body, err)
		}
		keys := slices.Sorted(maps.Keys(raw))
		if want := []string{"cluster", "details", "id", "kind", "node", "reporter", "severity", "status", "time"}; !slices.Equal(keys, want) {
			t.Errorf("POST %d: fields %v, want %v", i, keys, want)
		}
		if raw["kind"] != "peer_dead" || raw["node"] != "n2" || raw["reporter"] != "n1" ||
			raw["cluster"] != "testcluster" || raw["status"] != want.status || raw["severity"] != want.severity {
			t.Errorf("POST %d: body %s", i, r.body)
		}
		if _, err := time.Parse(time.RFC3339Nano, raw["time"].(string)); err != nil {
			t.Errorf("POST %d: time: %v", i, err)
		}
		if fmt.Sprint(r.ev.Details) != fmt.Sprint(want.details) {
			t.Errorf("POST %d: details %v, want %v", i, r.ev.Details, want.details)
		}
	}
	if reqs[0].ev.ID == reqs[1].ev.ID {
		t.Errorf("firing and resolution share the id %q", reqs[0].ev.ID)
	}

	// One log line per state change, Warn when firing, Info when resolved.
	firing, resolved := logs.find("alert firing"), logs.find("alert resolved")
	if len(firing) != 1 || firing[0].level != slog.LevelWarn || len(resolved) != 1 || resolved[0].level != slog.LevelInfo {
		t.Fatalf("logged %d firing and %d resolved lines, want one each at Warn and Info", len(firing), len(resolved))
	}
	if a := firing[0].attrs; a["kind"] != "peer_dead" || a["node"] != "n2" || a["severity"] != "critical" ||
		a["details.addr"] != "127.0.0.1:7946" || a["id"] != reqs[0].ev.ID {
		t.Errorf("firing log line: %v", a)
	}
	noSecret(t, logs, "/hook")
}

// TestDedup checks that an alert is identified by (kind, node): repeats of
// a firing alert, and resolutions of a closed one, change nothing and send
// nothing.
func TestDedup(t *testing.T) {
	rc := newReceiver(t, testKey, nil)
	cfg, logs := testConfig(rc.URL)
	m := newManager(t, cfg)
	m.SetSender(true)
	start(t, m)

	steps := []struct {
		firing bool
		kind   Kind
		node   string
		change bool
	}{
		{true, PeerDead, "n2", true},
		{true, PeerDead, "n2", false},
		{true, PeerDead, "n2", false},
		{true, PeerSuspect, "n2", true}, // another kind
		{true, PeerDead, "n3", true},    // another node
		{false, PeerDead, "n2", true},
		{false, PeerDead, "n2", false},
		{false, PeerLeft, "n2", false}, // never fired
		{true, PeerDead, "n2", true},   // fires again
	}
	for i, s := range steps {
		if got := m.Report(Event{Kind: s.kind, Node: s.node, Firing: s.firing}); got != s.change {
			t.Errorf("step %d (%s %s firing=%v): changed %v, want %v", i, s.kind, s.node, s.firing, got, s.change)
		}
	}
	var open []string
	for _, ev := range m.Open() {
		open = append(open, string(ev.Kind)+"/"+ev.Node)
	}
	if want := []string{"peer_suspect/n2", "peer_dead/n3", "peer_dead/n2"}; !slices.Equal(open, want) {
		t.Errorf("Open: %v, want %v (oldest first)", open, want)
	}
	eventually(t, "5 POSTs", func() bool { return rc.count() == 5 })
	m.Close()
	if n := rc.count(); n != 5 {
		t.Errorf("webhook got %d POSTs, want 5 (one per state change)", n)
	}
	if f, r := len(logs.find("alert firing")), len(logs.find("alert resolved")); f != 4 || r != 1 {
		t.Errorf("logged %d firing and %d resolved lines, want 4 and 1", f, r)
	}
	if n := len(m.Recent(0)); n != 5 {
		t.Errorf("Recent holds %d events, want 5", n)
	}
}

// TestNotSender checks that a Manager that is not the sender logs and
// records but posts nothing.
func TestNotSender(t *testing.T) {
	rc := newReceiver(t, testKey, nil)
	cfg, logs := testConfig(rc.URL)
	m := newManager(t, cfg)
	start(t, m)
	m.Fire(PeerDead, "n2", nil)
	m.Resolve(PeerDead, "n2", nil)
	m.Close() // waits for the delivery goroutines
	if n := rc.count(); n != 0 {
		t.Errorf("a non-sender posted %d times", n)
	}
	if len(logs.find("alert firing")) != 1 || len(logs.find("alert resolved")) != 1 || len(m.Recent(0)) != 2 {
		t.Errorf("a non-sender did not log and record both changes")
	}
}

// TestRetry checks which replies are retried and that every attempt of a
// delivery carries the same event id and a valid signature.
func TestRetry(t *testing.T) {
	for _, tc := range []struct {
		name      string
		replies   []int // status per attempt; after these, 200
		attempts  int   // Config.Attempts
		wantPosts int
		delivered bool
	}{
		{"500 twice then 200", []int{500, 500}, 5, 3, true},
		{"429 then 200", []int{429}, 5, 2, true},
		{"503 until out of attempts", []int{503, 503, 503, 503}, 3, 3, false},
		{"400 is not retried", []int{400}, 5, 1, false},
		{"404 is not retried", []int{404}, 5, 1, false},
		{"redirect is not followed", []int{307}, 5, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, testKey, func(n int) int {
				if n <= len(tc.replies) {
					return tc.replies[n-1]
				}
				return http.StatusOK
			})
			cfg, logs := testConfig(rc.URL + "/secret-token")
			cfg.Attempts = tc.attempts
			m := newManager(t, cfg)
			m.SetSender(true)
			start(t, m)
			m.Fire(BackendDown, "n1", nil)

			end := "alert webhook delivery abandoned"
			if tc.delivered {
				end = "alert webhook delivered"
			}
			eventually(t, "the log line "+end, func() bool { return len(logs.find(end)) == 1 })
			m.Close()

			reqs := rc.requests()
			if len(reqs) != tc.wantPosts {
				t.Fatalf("webhook got %d POSTs, want %d", len(reqs), tc.wantPosts)
			}
			for i, r := range reqs {
				if r.verified != nil {
					t.Errorf("attempt %d: %v", i+1, r.verified)
				}
				if id := r.header.Get(HeaderEventID); id != reqs[0].ev.ID || id == "" {
					t.Errorf("attempt %d: event id %q, first attempt's %q", i+1, id, reqs[0].ev.ID)
				}
			}
			failed := logs.find("alert webhook delivery failed")
			if len(failed) != tc.wantPosts-btoi(tc.delivered) {
				t.Errorf("logged %d failed attempts, want %d", len(failed), tc.wantPosts-btoi(tc.delivered))
			}
			for _, f := range failed {
				if f.level != slog.LevelWarn || f.attrs["http_status"] == "" {
					t.Errorf("failure log line: %v %v", f.level, f.attrs)
				}
			}
			if n := len(logs.find("alert webhook delivered")) + len(logs.find("alert webhook delivery abandoned")); n != 1 {
				t.Errorf("the delivery ended %d times", n)
			}
			noSecret(t, logs, "secret-token")
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestNetworkErrorRetried checks that a webhook that does not answer is
// retried and logged without its URL's path.
func TestNetworkErrorRetried(t *testing.T) {
	rc := newReceiver(t, testKey, nil)
	url := rc.URL + "/secret-token"
	rc.Close() // connection refused from now on
	cfg, logs := testConfig(url)
	cfg.Attempts = 3
	m := newManager(t, cfg)
	m.SetSender(true)
	start(t, m)
	m.Fire(PeerDead, "n2", nil)
	eventually(t, "the delivery to be abandoned", func() bool {
		return len(logs.find("alert webhook delivery abandoned")) == 1
	})
	failed := logs.find("alert webhook delivery failed")
	if len(failed) != 3 {
		t.Fatalf("logged %d failures, want 3", len(failed))
	}
	if failed[0].attrs["error"] == "" || failed[0].attrs["retry"] != "true" || failed[2].attrs["retry"] != "false" {
		t.Errorf("failure log lines: %v / %v", failed[0].attrs, failed[2].attrs)
	}
	noSecret(t, logs, "secret-token")
}

// TestHangingWebhook checks that a webhook that never answers neither
// blocks Report, even with its queue full, nor delays another webhook.
func TestHangingWebhook(t *testing.T) {
	release := make(chan struct{})
	var hungMu sync.Mutex
	hung := 0
	slow := newReceiver(t, testKey, func(int) int {
		hungMu.Lock()
		hung++
		hungMu.Unlock()
		<-release
		return http.StatusOK
	})
	t.Cleanup(func() { close(release) }) // before slow.Close: unblock its handler
	fast := newReceiver(t, testKey, nil)

	cfg, logs := testConfig(slow.URL, fast.URL)
	cfg.Timeout = time.Hour // the hang is not cut short by the attempt timeout
	cfg.QueueSize = 4
	m := newManager(t, cfg)
	m.SetSender(true)
	start(t, m)

	m.Fire(PeerDead, "n0", nil)
	eventually(t, "the slow webhook to hang", func() bool {
		hungMu.Lock()
		defer hungMu.Unlock()
		return hung == 1
	})

	// Far more events than the queue holds: Report must still return.
	const n = 50
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= n; i++ {
			m.Fire(PeerDead, fmt.Sprintf("n%d", i), nil)
		}
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("Report blocked behind a hanging webhook")
	}

	// The healthy webhook gets the newest event (the oldest may have been
	// dropped from its own small queue) and then every new one.
	last := fmt.Sprintf("n%d", n)
	eventually(t, "the healthy webhook to get the last event", func() bool {
		for _, r := range fast.requests() {
			if r.ev.Node == last {
				return true
			}
		}
		return false
	})
	m.Resolve(PeerDead, last, nil)
	eventually(t, "the healthy webhook to get a resolution", func() bool {
		reqs := fast.requests()
		r := reqs[len(reqs)-1]
		return r.ev.Node == last && !r.ev.Firing
	})

	// The hanging webhook's queue overflowed, and that was logged.
	var drops int
	for _, r := range logs.find("alert webhook queue full, oldest delivery dropped") {
		if r.attrs["webhook"] == slow.URL {
			drops++
		}
	}
	if drops < n-cfg.QueueSize {
		t.Errorf("logged %d drops for the hanging webhook, want at least %d", drops, n-cfg.QueueSize)
	}
	if len(m.Open()) != n {
		t.Errorf("%d alerts open, want %d", len(m.Open()), n)
	}
}

// TestQueueOverflow checks that a full queue drops its oldest delivery,
// logs it, and delivers the rest in order.
func TestQueueOverflow(t *testing.T) {
	rc := newReceiver(t, testKey, nil)
	cfg, logs := testConfig(rc.URL)
	cfg.QueueSize = 2
	m := newManager(t, cfg)
	m.SetSender(true)
	// Not running yet: nothing leaves the queue.
	var ids []string
	for i := range 5 {
		m.Fire(CapacityHigh, fmt.Sprintf("n%d", i), nil)
		ids = append(ids, m.Recent(1)[0].ID)
	}
	drops := logs.find("alert webhook queue full, oldest delivery dropped")
	if len(drops) != 3 {
		t.Fatalf("logged %d drops, want 3", len(drops))
	}
	for i, d := range drops {
		if d.level != slog.LevelWarn || d.attrs["dropped_id"] != ids[i] || d.attrs["dropped_node"] != fmt.Sprintf("n%d", i) {
			t.Errorf("drop %d: %v %v, want the id %s of n%d", i, d.level, d.attrs, ids[i], i)
		}
	}
	start(t, m)
	eventually(t, "2 POSTs", func() bool { return rc.count() == 2 })
	m.Close()
	reqs := rc.requests()
	if len(reqs) != 2 || reqs[0].ev.ID != ids[3] || reqs[1].ev.ID != ids[4] {
		t.Errorf("delivered %d events, want the last two in order", len(reqs))
	}
}

// TestReportNeverBlocks reports from many goroutines while the webhook is
// slow, with Open and Recent readers, under the race detector.
func TestReportNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	slow := newReceiver(t, testKey, func(int) int { <-release; return http.StatusOK })
	t.Cleanup(func() { close(release) })
	cfg, _ := testConfig(slow.URL)
	cfg.QueueSize = 3
	cfg.Timeout = time.Hour
	cfg.StateFile = t.TempDir() + "/alerts.json"
	m := newManager(t, cfg)
	m.SetSender(true)
	start(t, m)

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				node := fmt.Sprintf("g%d-n%d", g, i%5)
				m.Fire(PeerSuspect, node, map[string]string{"i": strconv.Itoa(i)})
				m.Resolve(PeerSuspect, node, nil)
				_ = m.Open()
				_ = m.Recent(10)
				m.SetSender(i%7 != 0)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("concurrent Reports did not finish")
	}
	if n := len(m.Open()); n != 0 {
		t.Errorf("%d alerts open after every one was resolved", n)
	}
}

// TestRecentBounded checks Recent's order and bound.
func TestRecentBounded(t *testing.T) {
	cfg, _ := testConfig()
	cfg.MaxRecent = 3
	m := newManager(t, cfg)
	for i := range 5 {
		m.Fire(UnderReplicated, fmt.Sprintf("n%d", i), nil)
	}
	var got []string
	for _, ev := range m.Recent(0) {
		got = append(got, ev.Node)
	}
	if want := []string{"n4", "n3", "n2"}; !slices.Equal(got, want) {
		t.Errorf("Recent(0): %v, want %v", got, want)
	}
	if r := m.Recent(1); len(r) != 1 || r[0].Node != "n4" {
		t.Errorf("Recent(1): %v", r)
	}
	if len(m.Open()) != 5 {
		t.Errorf("Open holds %d alerts, want 5: the bound is on recent changes only", len(m.Open()))
	}
}

// TestReportDefaults checks what Report fills in and that it copies the
// caller's details.
func TestReportDefaults(t *testing.T) {
	cfg, _ := testConfig()
	now := time.Date(2026, 11, 29, 16, 0, 0, 0, time.FixedZone("X", 3600))
	cfg.Now = func() time.Time { return now }
	m := newManager(t, cfg)
	details := map[string]string{"a": "1"}
	m.Report(Event{Kind: QuorumLost, Firing: true, Details: details})
	details["a"] = "changed"
	ev := m.Open()[0]
	if ev.ID == "" || ev.Severity != SeverityCritical || ev.Reporter != "n1" || ev.Cluster != "testcluster" ||
		!ev.Time.Equal(now) || ev.Time.Location() != time.UTC || ev.Details["a"] != "1" {
		t.Errorf("filled event: %+v", ev)
	}
	ev.Details["a"] = "changed too"
	if m.Open()[0].Details["a"] != "1" {
		t.Error("Open returned the Manager's own details map")
	}
	m.Report(Event{Kind: QuorumLost, Severity: SeverityInfo, Firing: false})
	if r := m.Recent(1)[0]; r.Severity != SeverityInfo {
		t.Errorf("an explicit severity was replaced by %q", r.Severity)
	}
	m.Fire(LeaderLost, "", nil)
	m.Resolve(LeaderLost, "", nil)
	if r := m.Recent(1)[0]; r.Severity != LeaderLost.Severity() {
		t.Errorf("a resolution got severity %q, want the alert's %q", r.Severity, LeaderLost.Severity())
	}
	if m.Report(Event{Node: "n2", Firing: true}) {
		t.Error("an event without a kind was recorded")
	}
}

// TestRunClose checks Run's and Close's contracts.
func TestRunClose(t *testing.T) {
	cfg, _ := testConfig()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(t.Context()) }()
	// A second Run is refused, whichever of the two started first.
	eventually(t, "Run to start", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.running
	})
	if err := m.Run(t.Context()); err == nil {
		t.Error("a second Run was accepted")
	}
	m.Close()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run after Close: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after Close")
	}
	m.Close() // idempotent
	if err := m.Run(t.Context()); err != ErrClosed {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
	if !m.Fire(PeerDead, "n2", nil) || len(m.Open()) != 1 {
		t.Error("Report after Close did not record")
	}
}

// TestNewCopiesConfig checks that New keeps its own copy of the slices.
func TestNewCopiesConfig(t *testing.T) {
	rc := newReceiver(t, testKey, nil)
	cfg, _ := testConfig(rc.URL)
	key := []byte("k")
	cfg.Key = key
	rc.key = []byte("k")
	m := newManager(t, cfg)
	cfg.Webhooks[0] = "http://127.0.0.1:1/"
	key[0] = 'x'
	m.SetSender(true)
	start(t, m)
	m.Fire(PeerDead, "n2", nil)
	eventually(t, "a POST", func() bool { return rc.count() == 1 })
	if err := rc.requests()[0].verified; err != nil {
		t.Error(err)
	}
}

// TestAttemptTimeout checks that each attempt is cut off by Config.Timeout
// and retried.
func TestAttemptTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := newReceiver(t, testKey, func(int) int { <-release; return http.StatusOK })
	t.Cleanup(func() { close(release) })
	cfg, logs := testConfig(slow.URL)
	cfg.Timeout = 50 * time.Millisecond
	cfg.Attempts = 2
	m := newManager(t, cfg)
	m.SetSender(true)
	start(t, m)
	m.Fire(PeerDead, "n2", nil)
	eventually(t, "the delivery to be abandoned", func() bool {
		return len(logs.find("alert webhook delivery abandoned")) == 1
	})
	failed := logs.find("alert webhook delivery failed")
	if len(failed) != 2 || !strings.Contains(failed[0].attrs["error"], "deadline exceeded") {
		t.Errorf("failures: %v", failed)
	}
	if n := slow.count(); n != 2 {
		t.Errorf("webhook got %d attempts, want 2", n)
	}
}

// TestBackoff checks the backoff bounds, jitter and Retry-After.
func TestBackoff(t *testing.T) {
	cfg, _ := testConfig()
	cfg.BackoffMin = 100 * time.Millisecond
	cfg.BackoffMax = time.Second
	m := newManager(t, cfg)
	for attempt := 1; attempt <= 70; attempt++ {
		full := min(cfg.BackoffMin<<min(attempt-1, 20), cfg.BackoffMax)
		for range 20 {
			if d := m.backoff(attempt, 0); d < full/2 || d > full {
				t.Fatalf("attempt %d: backoff %v outside [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
	if d := m.backoff(1, 500*time.Millisecond); d != 500*time.Millisecond {
		t.Errorf("Retry-After 500ms gave %v", d)
	}
	if d := m.backoff(1, time.Hour); d != cfg.BackoffMax {
		t.Errorf("Retry-After 1h gave %v, want the maximum %v", d, cfg.BackoffMax)
	}
}
