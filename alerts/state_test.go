package alerts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestPersistence checks that open and recent alerts survive a restart,
// and that an alert opened before it can be resolved after it.
func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.json")
	cfg, _ := testConfig()
	cfg.StateFile = path
	m := newManager(t, cfg)
	m.Fire(PeerDead, "n2", map[string]string{"addr": "10.0.0.2:7946"})
	m.Fire(PeerSuspect, "n3", nil)
	m.Resolve(PeerSuspect, "n3", nil)
	m.Fire(CapacityHigh, "n1", nil)
	wantOpen, wantRecent := m.Open(), m.Recent(0)
	m.Close()

	m2 := newManager(t, cfg)
	sameEvents(t, "Open", m2.Open(), wantOpen)
	sameEvents(t, "Recent", m2.Recent(0), wantRecent)
	if !m2.Resolve(PeerDead, "n2", nil) {
		t.Error("an alert open before the restart could not be resolved")
	}
	if m2.Fire(CapacityHigh, "n1", nil) {
		t.Error("an alert open before the restart fired again")
	}
	m2.Close()

	m3 := newManager(t, cfg)
	if open := m3.Open(); len(open) != 1 || open[0].Kind != CapacityHigh {
		t.Errorf("after the second restart Open is %v", open)
	}
	// Only the state file in the directory: no temporary files left.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("state directory holds %d entries, want only alerts.json", len(entries))
	}
}

// TestPersistWhileRunning checks that a running Manager saves changes
// without waiting for Close.
func TestPersistWhileRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.json")
	cfg, _ := testConfig()
	cfg.StateFile = path
	m := newManager(t, cfg)
	start(t, m)
	m.Fire(PeerDead, "n2", nil)
	id := m.Open()[0].ID
	eventually(t, "the state file to hold the alert", func() bool {
		data, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		var st stateFile
		return json.Unmarshal(data, &st) == nil && len(st.Open) == 1 && st.Open[0].ID == id
	})
}

// TestCorruptStateFile checks that a bad state file is logged, set aside
// and replaced, never fatal.
func TestCorruptStateFile(t *testing.T) {
	for _, tc := range []struct{ name, content string }{
		{"garbage", "{not json"},
		{"truncated", `{"version":1,"open":[{"id":"x","kind":"peer_dead",`},
		{"other version", `{"version":99,"open":[],"recent":[]}`},
		{"bad status", `{"version":1,"open":[{"id":"x","kind":"peer_dead","status":"maybe","time":"2026-01-01T00:00:00Z"}]}`},
		{"bad time", `{"version":1,"recent":[{"id":"x","kind":"peer_dead","status":"firing","time":"yesterday"}]}`},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "alerts.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, logs := testConfig()
			cfg.StateFile = path
			m := newManager(t, cfg)
			if len(m.Open()) != 0 || len(m.Recent(0)) != 0 {
				t.Errorf("a corrupt state file gave alerts")
			}
			if r := logs.find("alert state file corrupt, starting without it"); len(r) != 1 {
				t.Errorf("the corrupt file was logged %d times, want once", len(r))
			}
			if data, err := os.ReadFile(path + ".corrupt"); err != nil || string(data) != tc.content {
				t.Errorf("the corrupt file was not set aside: %v", err)
			}
			m.Fire(PeerDead, "n2", nil)
			m.Close()
			m2 := newManager(t, cfg)
			if len(m2.Open()) != 1 {
				t.Errorf("the state saved after a corrupt one did not load")
			}
		})
	}
}

// TestUnwritableStateFile checks that a failed save is logged and retried.
func TestUnwritableStateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	cfg, logs := testConfig()
	cfg.StateFile = filepath.Join(dir, "alerts.json")
	m := newManager(t, cfg)
	m.Fire(PeerDead, "n2", nil)
	m.save()
	if len(logs.find("alert state file not saved")) != 1 {
		t.Fatal("a failed save was not logged")
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	m.Close() // saves again: the state is still unsaved
	if _, err := os.Stat(cfg.StateFile); err != nil {
		t.Errorf("the save was not retried: %v", err)
	}
}

func sameEvents(t *testing.T, what string, got, want []Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Kind != w.Kind || g.Node != w.Node || g.Severity != w.Severity ||
			g.Reporter != w.Reporter || g.Cluster != w.Cluster || g.Firing != w.Firing ||
			!g.Time.Equal(w.Time) || len(g.Details) != len(w.Details) {
			t.Errorf("%s[%d]: %+v, want %+v", what, i, g, w)
		}
		for k, v := range w.Details {
			if g.Details[k] != v {
				t.Errorf("%s[%d]: details %v, want %v", what, i, g.Details, w.Details)
			}
		}
	}
}
