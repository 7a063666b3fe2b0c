package raftmeta

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"

	"github.com/dfsproject/dfs/store/meta"
)

// A raft snapshot is a header, then meta's snapshot (meta.Snap.WriteTo):
//
//	version  byte (snapVersion)
//	applied  uint64, big-endian: the state's applied index
//
// The header lets NeedsRestore learn a snapshot's applied index without
// reading the rest. meta's applied index is that of the last LogCommand
// entry at or below raft's snapshot index (raft's may be higher: no-op
// and configuration entries do not reach meta).
const (
	snapVersion   = 1
	snapHeaderLen = 1 + 8
)

// restoreMarker is the file, in the meta.FSM's directory, that exists
// while Restore replaces the state: a crash then leaves a state that
// may be partly loaded, which NeedsRestore recognizes by the marker.
const restoreMarker = "raftmeta-restoring"

// Snapshot pins the state as it is now, between two Apply calls (raft
// calls it from the goroutine that calls Apply). Persist then writes
// that view while Apply goes on: it is a badger read transaction, which
// later commits do not change.
func (a *FSM) Snapshot() (raft.FSMSnapshot, error) {
	if err := a.Err(); err != nil {
		return nil, err
	}
	s, err := a.f.OpenSnapshot()
	if err != nil {
		return nil, fmt.Errorf("raftmeta: snapshot: %w", err)
	}
	return &fsmSnapshot{s: s}, nil
}

// fsmSnapshot is a pinned state. Persist and Release are called once
// each, from one goroutine at a time, concurrently with Apply.
type fsmSnapshot struct{ s *meta.Snap }

// Persist streams the header and the state into sink and closes it, or
// cancels it on error.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	var hdr [snapHeaderLen]byte
	hdr[0] = snapVersion
	binary.BigEndian.PutUint64(hdr[1:], s.s.Applied())
	_, err := sink.Write(hdr[:])
	if err == nil {
		_, err = s.s.WriteTo(sink)
	}
	if err != nil {
		sink.Cancel()
		return fmt.Errorf("raftmeta: persist snapshot at %d: %w", s.s.Applied(), err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("raftmeta: persist snapshot at %d: %w", s.s.Applied(), err)
	}
	return nil
}

// Release unpins the state (meta.FSM.Close and Restore wait for it).
func (s *fsmSnapshot) Release() { s.s.Release() }

// readSnapHeader reads the header and returns the applied index.
func readSnapHeader(r io.Reader) (uint64, error) {
	var hdr [snapHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, fmt.Errorf("%w: raft snapshot header: %v", meta.ErrBadSnapshot, err)
	}
	if hdr[0] != snapVersion {
		return 0, fmt.Errorf("%w: raft snapshot version %d", meta.ErrBadSnapshot, hdr[0])
	}
	return binary.BigEndian.Uint64(hdr[1:]), nil
}

// Restore replaces the state with the snapshot in rc (and closes rc),
// then syncs it. Raft calls it when it installs a snapshot sent by the
// leader, and when it starts if NoSnapshotRestoreOnStart is off (see
// NeedsRestore). A snapshot that is not intact gives an error wrapping
// meta.ErrBadSnapshot and leaves the state as it was. While the state
// is being replaced a marker file in the state's directory says so; a
// crash leaves it behind and NeedsRestore then asks for a restore.
func (a *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	applied, err := readSnapHeader(rc)
	if err != nil {
		return fmt.Errorf("raftmeta: restore: %w", err)
	}
	marker := a.markerPath()
	if marker != "" {
		if err := writeMarker(marker); err != nil {
			return fmt.Errorf("raftmeta: restore: %w", err)
		}
	}
	if err := a.f.Restore(rc); err != nil {
		// Unless the state was lost on the way (then every call on it
		// fails), it is as it was: the marker can go.
		if _, serr := a.f.Stats(context.Background()); serr == nil {
			a.removeMarker(marker)
		}
		return fmt.Errorf("raftmeta: restore: %w", err)
	}
	if err := a.f.Sync(); err != nil {
		return fmt.Errorf("raftmeta: restore: %w", err)
	}
	a.removeMarker(marker)
	if got := a.f.AppliedIndex(); got != applied {
		return fmt.Errorf("raftmeta: restore: snapshot header says applied index %d, its state %d", applied, got)
	}
	a.log.Info("raftmeta: restored snapshot", "applied", applied)
	return nil
}

// NeedsRestore reports whether raft must restore its newest snapshot in
// snaps into the state when it starts. Set raft.Config's
// NoSnapshotRestoreOnStart to its negation before raft.NewRaft:
//
//	need, err := fsm.NeedsRestore(snaps)
//	conf.NoSnapshotRestoreOnStart = !need
//
// The state is kept on disk with its applied index, so it usually is at
// or past the newest snapshot already: restoring would move it back and
// replay the entries after the snapshot on top, and skipping the
// restore keeps it where it is (raft replays from the snapshot's index
// and Apply skips what the state holds). A restore is needed only when
// the state is behind the snapshot (it was lost or wiped, or its last
// unsynced commands were lost in a crash and the log was compacted
// past them) or when a crash interrupted a Restore.
func (a *FSM) NeedsRestore(snaps raft.SnapshotStore) (bool, error) {
	list, err := snaps.List()
	if err != nil {
		return false, fmt.Errorf("raftmeta: list snapshots: %w", err)
	}
	torn := false
	if marker := a.markerPath(); marker != "" {
		if _, err := os.Stat(marker); err == nil {
			torn = true
		} else if !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("raftmeta: %w", err)
		}
	}
	switch {
	case torn && len(list) == 0:
		return false, errors.New("raftmeta: the state was being restored when the node stopped and there is no snapshot to restore it from")
	case torn:
		a.log.Warn("raftmeta: an interrupted restore left the state incomplete; restoring the newest snapshot")
		return true, nil
	case len(list) == 0:
		return false, nil
	}
	applied := a.f.AppliedIndex()
	if applied >= list[0].Index {
		return false, nil
	}
	_, rc, err := snaps.Open(list[0].ID)
	if err != nil {
		// Let raft try it, and older snapshots after it.
		a.log.Warn("raftmeta: open newest snapshot", "id", list[0].ID, "err", err)
		return true, nil
	}
	defer rc.Close()
	snapApplied, err := readSnapHeader(rc)
	if err != nil {
		a.log.Warn("raftmeta: read newest snapshot", "id", list[0].ID, "err", err)
		return true, nil
	}
	return applied < snapApplied, nil
}

// markerPath is the restore marker's path, "" for an in-memory state.
func (a *FSM) markerPath() string {
	cfg := a.f.Config()
	if cfg.InMemory {
		return ""
	}
	return filepath.Join(cfg.Dir, restoreMarker)
}

// writeMarker creates the marker durably.
func writeMarker(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// removeMarker removes the marker durably. A failure is logged: the
// marker left behind only costs a restore at the next start.
func (a *FSM) removeMarker(path string) {
	if path == "" {
		return
	}
	err := os.Remove(path)
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		a.log.Warn("raftmeta: remove restore marker", "path", path, "err", err)
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
