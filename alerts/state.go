package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// stateVersion is the state file's format version.
const stateVersion = 1

// stateFile is the state file's content: the open alerts (which the recent
// list, being bounded, may no longer hold) and the recent state changes,
// oldest first, each in Event's JSON form.
type stateFile struct {
	Version int     `json:"version"`
	Open    []Event `json:"open"`
	Recent  []Event `json:"recent"`
}

// load reads the state file into m. A missing file is a fresh start; an
// unreadable one is logged and ignored; a corrupt one is also set aside
// as StateFile+".corrupt" so that it is not lost to the next save.
func (m *Manager) load() {
	path := m.cfg.StateFile
	if path == "" {
		return
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		m.log.Error("alert state file not read, starting without it", "path", path, "error", err)
		return
	}
	var st stateFile
	err = json.Unmarshal(data, &st)
	if err == nil && st.Version != stateVersion {
		err = fmt.Errorf("version %d, want %d", st.Version, stateVersion)
	}
	if err != nil {
		aside := path + ".corrupt"
		if rerr := os.Rename(path, aside); rerr != nil {
			aside = ""
		}
		m.log.Error("alert state file corrupt, starting without it", "path", path, "moved_to", aside, "error", err)
		return
	}
	for _, ev := range st.Open {
		if ev.Kind != "" && ev.Firing {
			m.open[ev.key()] = ev
		}
	}
	for _, ev := range st.Recent {
		if ev.Kind != "" {
			m.recent = append(m.recent, ev)
		}
	}
	if n := len(m.recent) - m.cfg.MaxRecent; n > 0 {
		m.recent = slices.Delete(m.recent, 0, n)
	}
}

// save writes the state file if the state changed since the last save.
// A failed write is logged and retried at the next save.
func (m *Manager) save() {
	if m.cfg.StateFile == "" {
		return
	}
	m.saveMu.Lock()
	defer m.saveMu.Unlock()
	m.mu.Lock()
	if !m.dirty {
		m.mu.Unlock()
		return
	}
	st := stateFile{
		Version: stateVersion,
		Open:    slices.Collect(maps.Values(m.open)),
		Recent:  slices.Clone(m.recent),
	}
	m.dirty = false
	m.mu.Unlock()

	// Events are never modified once recorded, so encoding outside m.mu
	// races with nothing.
	data, err := json.MarshalIndent(st, "", "\t")
	if err == nil {
		err = writeFileAtomic(m.cfg.StateFile, append(data, '\n'))
	}
	if err != nil {
		m.log.Error("alert state file not saved", "path", m.cfg.StateFile, "error", err)
		m.mu.Lock()
		m.dirty = true
		m.mu.Unlock()
	}
}

// writeFileAtomic replaces path with data: a reader (or a crash) sees the
// old content or the new, never a mix.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
