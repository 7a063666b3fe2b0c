package alerts

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestSignVector(t *testing.T) {
	// printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'k3y'
	const want = "sha256=fd5a70e965043f7df6309c2c3b5ff5a8ffa99b1f5175e9a311459e73c4634d4a"
	if got := Sign([]byte("k3y"), 1700000000, []byte(`{"a":1}`)); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	key, body, ts := []byte("key"), []byte(`{"id":"1"}`), int64(1700000000)
	sig := Sign(key, ts, body)
	if !Verify(key, ts, body, sig) {
		t.Fatal("a good signature does not verify")
	}
	for name, bad := range map[string]func() bool{
		"wrong key":       func() bool { return Verify([]byte("kez"), ts, body, sig) },
		"other body":      func() bool { return Verify(key, ts, []byte(`{"id":"2"}`), sig) },
		"other timestamp": func() bool { return Verify(key, ts+1, body, sig) },
		"no prefix":       func() bool { return Verify(key, ts, body, sig[len("sha256="):]) },
		"not hex":         func() bool { return Verify(key, ts, body, "sha256=zz") },
		"truncated":       func() bool { return Verify(key, ts, body, sig[:len(sig)-2]) },
		"empty":           func() bool { return Verify(key, ts, body, "") },
	} {
		if bad() {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestVerifyRequest(t *testing.T) {
	key, body := []byte("key"), []byte(`{}`)
	now := time.Unix(1700000000, 0)
	header := func(ts int64, sig string) http.Header {
		h := http.Header{}
		h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		h.Set(HeaderSignature, sig)
		return h
	}
	ok := now.Unix() - 30
	if err := VerifyRequest(key, header(ok, Sign(key, ok, body)), body, now, time.Minute); err != nil {
		t.Fatalf("a fresh good request: %v", err)
	}
	old := now.Unix() - 120
	future := now.Unix() + 120
	for name, h := range map[string]http.Header{
		"stale":        header(old, Sign(key, old, body)),
		"future":       header(future, Sign(key, future, body)),
		"forged":       header(ok, Sign([]byte("other"), ok, body)),
		"no timestamp": {HeaderSignature: {Sign(key, ok, body)}},
		"unsigned":     {HeaderTimestamp: {strconv.FormatInt(ok, 10)}},
	} {
		if err := VerifyRequest(key, h, body, now, time.Minute); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
}

func TestDeriveKey(t *testing.T) {
	a, b := DeriveKey([]byte("cluster key 1")), DeriveKey([]byte("cluster key 2"))
	if len(a) != 32 || string(a) == string(b) || string(a) == "cluster key 1" {
		t.Errorf("DeriveKey: %x %x", a, b)
	}
	if string(DeriveKey([]byte("cluster key 1"))) != string(a) {
		t.Error("DeriveKey is not deterministic")
	}
}

func TestEventJSON(t *testing.T) {
	ev := Event{
		ID: "abc", Kind: PeerLeft, Node: "n2", Severity: SeverityInfo, Reporter: "n1", Cluster: "c",
		Firing: false, Time: time.Date(2026, 11, 29, 16, 1, 2, 3, time.UTC), Details: map[string]string{"k": "v"},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"abc","kind":"peer_left","severity":"info","node":"n2","reporter":"n1","cluster":"c","status":"resolved","time":"2026-11-29T16:01:02.000000003Z","details":{"k":"v"}}`
	if string(b) != want {
		t.Fatalf("JSON:\n%s\nwant\n%s", b, want)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	sameEvents(t, "round trip", []Event{back}, []Event{ev})
	ev.Details = nil
	ev.Firing = true
	b, _ = json.Marshal(ev)
	if want := `{"id":"abc","kind":"peer_left","severity":"info","node":"n2","reporter":"n1","cluster":"c","status":"firing","time":"2026-11-29T16:01:02.000000003Z"}`; string(b) != want {
		t.Errorf("JSON without details:\n%s\nwant\n%s", b, want)
	}
}
