package fs_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"

	"github.com/dfsproject/dfs/fs/fstest"
)

// posixSkips are the go-fuse posixtest cases not run, with the reason.
var posixSkips = map[string]string{
	"FcntlFlockLocksFile": "the case expects two POSIX record locks taken by one process to conflict, " +
		"which POSIX never does: it fails on ext4 and tmpfs as well (go-fuse's own TestAll skips it)",
}

// TestPosix runs every go-fuse posixtest case against a real mount served
// by a dfsd subprocess, once on the default directory backend and once on
// MinIO (skipped when there is no MinIO server). Each case gets a fresh
// directory under the mount's root; none needs the root itself.
func TestPosix(t *testing.T) {
	for _, b := range []struct {
		name    string
		backend func(t *testing.T) string
	}{
		{"dir", func(*testing.T) string { return "" }},
		{"minio", func(t *testing.T) string { return fstest.MinIOBackend(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			d := fstest.Start(t, fstest.Options{Backend: b.backend(t)})
			runPosix(t, d.Mountpoint)
		})
	}
}

func runPosix(t *testing.T, mnt string) {
	names := make([]string, 0, len(posixtest.All))
	for name := range posixtest.All {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if why, ok := posixSkips[name]; ok {
				t.Skip(why)
			}
			dir := filepath.Join(mnt, name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatalf("mkdir: %v", err)
			}
			t.Cleanup(func() {
				// Also after a case that skipped or failed.
				if err := os.RemoveAll(dir); err != nil && !t.Failed() {
					t.Errorf("removing the case's directory: %v", err)
				}
			})
			posixtest.All[name](t, dir)
		})
	}
}
