package fstest

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// PosixSkips are the go-fuse posixtest cases RunPosix does not run, with
// the reason.
var PosixSkips = map[string]string{
	"FcntlFlockLocksFile": "the case expects two POSIX record locks taken by one process to conflict, " +
		"which POSIX never does: it fails on ext4 and tmpfs as well (go-fuse's own TestAll skips it)",
}

// RunPosix runs every go-fuse posixtest case but PosixSkips against the
// mount at mnt, each as a subtest in a fresh directory under mnt (none
// needs the root itself), removed afterwards.
func RunPosix(t *testing.T, mnt string) {
	for _, name := range slices.Sorted(maps.Keys(posixtest.All)) {
		t.Run(name, func(t *testing.T) {
			if why, ok := PosixSkips[name]; ok {
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
