package fs_test

import (
	"testing"

	"github.com/dfsproject/dfs/fs/fstest"
)

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
			fstest.RunPosix(t, d.Mountpoint)
		})
	}
}
