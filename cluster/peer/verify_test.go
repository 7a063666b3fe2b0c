package peer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/internal/ratelog"
	"github.com/dfsproject/dfs/store"
)

// TestRefusedUnauthorized sends requests that must all be refused with 401
// before the backend is touched.
func TestRefusedUnauthorized(t *testing.T) {
	data, id := randChunk(1, 1000)
	chunk := "/v1/chunks/" + id.String()
	for _, tc := range []struct {
		name   string
		method string
		uri    string
		body   []byte
		mod    func(r *http.Request, now time.Time)
	}{
		{"unsigned GET", "GET", chunk, nil, func(r *http.Request, _ time.Time) {
			for _, h := range []string{HeaderTimestamp, HeaderNonce, HeaderContent, HeaderSignature} {
				r.Header.Del(h)
			}
		}},
		{"unsigned PUT", "PUT", chunk, data, func(r *http.Request, _ time.Time) { r.Header = http.Header{} }},
		{"no signature", "GET", chunk, nil, func(r *http.Request, _ time.Time) { r.Header.Del(HeaderSignature) }},
		{"no nonce", "GET", chunk, nil, func(r *http.Request, _ time.Time) { r.Header.Del(HeaderNonce) }},
		{"no timestamp", "GET", chunk, nil, func(r *http.Request, _ time.Time) { r.Header.Del(HeaderTimestamp) }},
		{"no content hash", "GET", chunk, nil, func(r *http.Request, _ time.Time) { r.Header.Del(HeaderContent) }},
		{"forged signature", "GET", chunk, nil, func(r *http.Request, _ time.Time) {
			r.Header.Set(HeaderSignature, strings.Repeat("ab", 32))
		}},
		{"signature upper case", "GET", chunk, nil, func(r *http.Request, _ time.Time) {
			r.Header.Set(HeaderSignature, strings.ToUpper(r.Header.Get(HeaderSignature)))
		}},
		{"signature repeated", "GET", chunk, nil, func(r *http.Request, _ time.Time) {
			r.Header.Add(HeaderSignature, r.Header.Get(HeaderSignature))
		}},
		{"wrong key", "PUT", chunk, data, func(r *http.Request, now time.Time) { sign(t, r, otherKey, data, now) }},
		{"stale by 31s", "PUT", chunk, data, func(r *http.Request, now time.Time) { sign(t, r, testKey, data, now.Add(-31*time.Second)) }},
		{"future by 31s", "PUT", chunk, data, func(r *http.Request, now time.Time) { sign(t, r, testKey, data, now.Add(31*time.Second)) }},
		{"stale by a year", "GET", chunk, nil, func(r *http.Request, now time.Time) { sign(t, r, testKey, nil, now.AddDate(-1, 0, 0)) }},
		{"timestamp zero", "GET", chunk, nil, func(r *http.Request, now time.Time) { sign(t, r, testKey, nil, time.Unix(0, 0)) }},
		{"timestamp not a number", "GET", chunk, nil, func(r *http.Request, _ time.Time) { r.Header.Set(HeaderTimestamp, "-1") }},
		{"timestamp too long", "GET", chunk, nil, func(r *http.Request, _ time.Time) { r.Header.Set(HeaderTimestamp, strings.Repeat("9", 30)) }},
		{"nonce short", "GET", chunk, nil, func(r *http.Request, _ time.Time) { r.Header.Set(HeaderNonce, "abcd") }},
		{"method changed", "DELETE", chunk, nil, func(r *http.Request, now time.Time) {
			r.Method = "GET"
			sign(t, r, testKey, nil, now)
			r.Method = "DELETE"
		}},
		{"path changed", "DELETE", chunk, nil, func(r *http.Request, now time.Time) {
			saved := r.RequestURI
			r.RequestURI = "/v1/chunks/" + strings.Repeat("0", 64)
			sign(t, r, testKey, nil, now)
			r.RequestURI = saved
		}},
		{"query changed", "GET", "/v1/chunks?limit=5", nil, func(r *http.Request, now time.Time) {
			saved := r.RequestURI
			r.RequestURI = "/v1/chunks?limit=6"
			sign(t, r, testKey, nil, now)
			r.RequestURI = saved
		}},
		{"content hash changed", "PUT", chunk, data, func(r *http.Request, _ time.Time) {
			r.Header.Set(HeaderContent, hex.EncodeToString(make([]byte, 32)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			now := e.clock.Now()
			r := request(t, tc.method, tc.uri, tc.body, testKey, now)
			tc.mod(r, now)
			w := serve(e.h, r)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d (%q), want 401", w.Code, w.Body.String())
			}
			if n := e.calls(); n != 0 {
				t.Fatalf("backend called %d times", n)
			}
			if got, _ := e.mem.Stat(ctxT(t), id.Key()); got.Size != 0 {
				t.Fatalf("chunk stored")
			}
			logs := e.logs.String()
			if !strings.Contains(logs, "peer request refused") || !strings.Contains(logs, "192.0.2.7:4242") {
				t.Errorf("refusal not logged with the remote address: %q", logs)
			}
			for _, k := range [][]byte{testKey, otherKey} {
				if strings.Contains(logs, hex.EncodeToString(k)) || strings.Contains(logs, string(k)) {
					t.Errorf("log contains a key: %q", logs)
				}
			}
		})
	}
}

func TestSkewWindowEdges(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	for _, d := range []time.Duration{-30 * time.Second, 30 * time.Second, 0, -time.Second} {
		w := serve(e.h, request(t, "HEAD", "/v1/chunks/"+strings.Repeat("0", 64), nil, testKey, now.Add(d)))
		if w.Code != http.StatusNotFound {
			t.Errorf("timestamp off by %v: status %d, want 404", d, w.Code)
		}
	}
}

func TestReplayRefused(t *testing.T) {
	e := newEnv(t)
	data, id := randChunk(2, 500)
	r := request(t, "PUT", "/v1/chunks/"+id.String(), data, testKey, e.clock.Now())
	hdr := r.Header.Clone()
	if w := serve(e.h, r); w.Code != http.StatusNoContent {
		t.Fatalf("first PUT: %d %s", w.Code, w.Body)
	}
	if err := e.mem.Delete(ctxT(t), id.Key()); err != nil {
		t.Fatal(err)
	}
	before := e.calls()
	// The same request again, a second later, and just inside the window.
	for _, d := range []time.Duration{time.Second, 28 * time.Second} {
		e.clock.Add(d)
		r2 := request(t, "PUT", "/v1/chunks/"+id.String(), data, nil, time.Time{})
		r2.Header = hdr.Clone()
		w := serve(e.h, r2)
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "replayed") {
			t.Fatalf("replay after %v: %d %q, want 401 replayed", d, w.Code, w.Body)
		}
	}
	if e.calls() != before {
		t.Fatalf("replay reached the backend")
	}
	if _, err := e.mem.Stat(ctxT(t), id.Key()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replayed PUT stored the chunk again: %v", err)
	}
	// Once out of the window it is refused as stale.
	e.clock.Add(10 * time.Second)
	r3 := request(t, "PUT", "/v1/chunks/"+id.String(), data, nil, time.Time{})
	r3.Header = hdr.Clone()
	if w := serve(e.h, r3); w.Code != http.StatusUnauthorized {
		t.Fatalf("old replay: %d", w.Code)
	}
}

func TestReplayCacheBoundedAndPruned(t *testing.T) {
	clk := newClock()
	v := &Verifier{Key: testKey, Skew: 10 * time.Second, MaxNonces: 100, Now: clk.Now}
	req := func(ts time.Time) *http.Request {
		return request(t, "GET", "/v1/chunks", nil, testKey, ts)
	}
	for i := range 100 {
		if _, err := v.Verify(req(clk.Now())); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	// Full: refused with 503, not accepted by forgetting a nonce.
	_, err := v.Verify(req(clk.Now()))
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Status != http.StatusServiceUnavailable || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("full cache: %v, want a 503 refusal", err)
	}
	// A nonce seen is remembered at least 2*Skew: a request signed 10 s
	// in the future stays valid until 20 s from now.
	clk.Add(25 * time.Second) // first rotation: still full
	if _, err := v.Verify(req(clk.Now())); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("after one generation: %v, want still full", err)
	}
	clk.Add(20 * time.Second) // second rotation: the old nonces go
	if _, err := v.Verify(req(clk.Now())); err != nil {
		t.Fatalf("after pruning: %v", err)
	}
	if n := v.nonces(); n != 1 {
		t.Fatalf("replay cache holds %d nonces after pruning, want 1", n)
	}
	// A long idle time drops both generations at once.
	clk.Add(time.Hour)
	if _, err := v.Verify(req(clk.Now())); err != nil {
		t.Fatal(err)
	}
	if n := v.nonces(); n != 1 {
		t.Fatalf("replay cache holds %d nonces after an hour, want 1", n)
	}
}

// TestReplayAcrossRotation drives a clock through many generations of the
// replay cache, replaying every request ever sent at every step: none is
// accepted twice, and nonces are dropped once their timestamps are out of
// the window.
func TestReplayAcrossRotation(t *testing.T) {
	clk := newClock()
	skew := 10 * time.Second
	v := &Verifier{Key: testKey, Skew: skew, Now: clk.Now}
	var sent []http.Header
	for step := range 120 {
		for _, d := range []time.Duration{-skew, 0, skew} { // the window's edges
			r := request(t, "GET", "/v1/chunks", nil, testKey, clk.Now().Add(d))
			if _, err := v.Verify(r); err != nil {
				t.Fatalf("step %d: fresh request refused: %v", step, err)
			}
			sent = append(sent, r.Header.Clone())
		}
		for i, hdr := range sent {
			r := request(t, "GET", "/v1/chunks", nil, nil, time.Time{})
			r.Header = hdr.Clone()
			if _, err := v.Verify(r); !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("step %d: request %d replayed: %v", step, i, err)
			}
		}
		clk.Add(1700 * time.Millisecond)
	}
	// At most the nonces of 4*skew of requests are kept.
	if n, max := v.nonces(), 3*int(4*skew/(1700*time.Millisecond)+2); n > max {
		t.Fatalf("replay cache holds %d nonces, want at most %d", n, max)
	}
}

func TestSignRefusesShortKey(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://x/v1/chunks", nil)
	if err := Sign(r, []byte("short"), nil, time.Now()); err == nil {
		t.Fatal("Sign with a 5-byte key: no error")
	}
	v := &Verifier{Key: nil}
	r = request(t, "GET", "/v1/chunks", nil, testKey, time.Now())
	if _, err := v.Verify(r); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Verifier without a key: %v", err)
	}
}

func TestBodyReader(t *testing.T) {
	body := []byte("some body")
	r := BodyReader(bytes.NewReader(body), sha256.Sum256(body))
	if got, err := readAll(r); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("matching body: %q, %v", got, err)
	}
	r = BodyReader(bytes.NewReader(body), sha256.Sum256([]byte("other")))
	if _, err := readAll(r); !errors.Is(err, ErrBodyHash) {
		t.Fatalf("mismatching body: %v", err)
	}
}

func readAll(r interface{ Read([]byte) (int, error) }) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

// TestRefusalLogRateLimited floods the handler with unsigned requests: the
// log gets a bounded number of lines, and the count of those dropped.
func TestRefusalLogRateLimited(t *testing.T) {
	e := newEnv(t)
	for range 1000 {
		serve(e.h, request(t, "GET", "/v1/chunks", nil, nil, time.Time{}))
	}
	lines := strings.Count(e.logs.String(), "\n")
	if lines > ratelog.Burst {
		t.Fatalf("%d log lines for 1000 refusals, want at most %d", lines, ratelog.Burst)
	}
	e.clock.Add(time.Minute)
	serve(e.h, request(t, "GET", "/v1/chunks", nil, nil, time.Time{}))
	if !strings.Contains(e.logs.String(), "suppressed=980") {
		t.Fatalf("dropped lines not counted: %s", e.logs.String())
	}
}
