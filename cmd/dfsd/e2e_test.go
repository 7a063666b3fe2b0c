package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dfsproject/dfs/fs/fstest"
)

// backends runs f once on the directory backend and once on MinIO.
func backends(t *testing.T, f func(t *testing.T, backend string)) {
	t.Run("dir", func(t *testing.T) { f(t, "") })
	t.Run("minio", func(t *testing.T) { f(t, fstest.MinIOBackend(t)) })
}

// sh runs a shell script in dir and fails the test with its output on error.
func sh(t *testing.T, dir, script string) string {
	t.Helper()
	cmd := exec.Command("sh", "-euc", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

func randomFile(t *testing.T, path string, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// makeTree writes n small files of varied sizes in nested directories.
func makeTree(t *testing.T, root string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", i%25), fmt.Sprintf("e%d", i%4))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		size := (i * 7919) % 20000 // inline and chunked sizes both
		b := make([]byte, size)
		rand.Read(b)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.dat", i)), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("d00/e0", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
}

// TestShell is the shell-level end-to-end test: cp, cp -r, diff -r, mv,
// rm -rf, then a clean restart that keeps everything.
func TestShell(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		d := fstest.Start(t, fstest.Options{Backend: backend})
		src := t.TempDir()
		big := randomFile(t, filepath.Join(src, "big"), 64<<20)
		makeTree(t, filepath.Join(src, "tree"), 1000)
		mnt := d.Mountpoint

		sh(t, mnt, "cp "+src+"/big big && cmp "+src+"/big big")
		sh(t, mnt, "cp -r "+src+"/tree tree && diff -r "+src+"/tree tree")
		sh(t, mnt, "mkdir -p a/b c && cp -r tree/d01 a/b/ && mv a/b/d01 c/moved && mv big c/big2")
		sh(t, mnt, "diff -r "+src+"/tree/d01 c/moved && cmp "+src+"/big c/big2")
		sh(t, mnt, "test ! -e a/b/d01 && test ! -e big")
		sh(t, mnt, "cp -r tree doomed && rm -rf doomed && test ! -e doomed")
		sh(t, mnt, "test \"$(ls -A a/b)\" = ''")

		d.Restart(t)
		sh(t, mnt, "cmp "+src+"/big c/big2 && diff -r "+src+"/tree tree && diff -r "+src+"/tree/d01 c/moved")
		sh(t, mnt, "test ! -e doomed && test \"$(readlink tree/link)\" = d00/e0")
		got, err := os.ReadFile(filepath.Join(mnt, "c/big2"))
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("big file after restart: err %v, equal %v", err, bytes.Equal(got, big))
		}
	})
}

// TestKill9 checks that every closed file survives kill -9 of dfsd.
func TestKill9(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		d := fstest.Start(t, fstest.Options{Backend: backend})
		src := t.TempDir()
		randomFile(t, filepath.Join(src, "f1"), 9<<20+12345)
		randomFile(t, filepath.Join(src, "small"), 100)
		makeTree(t, filepath.Join(src, "tree"), 200)
		mnt := d.Mountpoint
		sh(t, mnt, "cp "+src+"/f1 "+src+"/small . && cp -r "+src+"/tree tree && mkdir empty && mv small small2")
		// A file that is being written when the daemon dies: its closed
		// first version must survive.
		sh(t, mnt, "echo version1 > open.txt")
		f, err := os.OpenFile(filepath.Join(mnt, "open.txt"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(bytes.Repeat([]byte("x"), 1<<20))
		d.Kill9(t)
		f.Close()

		d.StartAgain(t)
		sh(t, mnt, "cmp "+src+"/f1 f1 && cmp "+src+"/small small2 && diff -r "+src+"/tree tree && test -d empty")
		got, err := os.ReadFile(filepath.Join(mnt, "open.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if s := string(got); s != "version1\n" && !strings.HasPrefix(s, "version1\nxxx") {
			t.Fatalf("open.txt after kill -9 = %.40q...; want its last committed version", s)
		}
	})
}

// TestCorruptChunk alters a chunk on the directory backend: reading the
// file must fail with EIO, never return the altered bytes.
func TestCorruptChunk(t *testing.T) {
	d := fstest.Start(t, fstest.Options{})
	want := randomFile(t, filepath.Join(t.TempDir(), "f"), 3<<20)
	if err := os.WriteFile(filepath.Join(d.Mountpoint, "f"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	d.Stop(t) // drop the daemon's caches
	var chunks []string
	filepath.WalkDir(filepath.Join(d.DataDir, "chunks"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() && !strings.Contains(p, "/.tmp/") {
			chunks = append(chunks, p)
		}
		return nil
	})
	if len(chunks) != 1 {
		t.Fatalf("want 1 chunk object for a 3 MiB file, found %d: %v", len(chunks), chunks)
	}
	b, err := os.ReadFile(chunks[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(chunks[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	d.StartAgain(t)
	got, err := os.ReadFile(filepath.Join(d.Mountpoint, "f"))
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("read of a corrupt chunk: %d bytes, err %v; want EIO", len(got), err)
	}
	if !strings.Contains(d.Log(), "corrupt") {
		t.Errorf("daemon log does not mention the corrupt chunk")
	}
}

// TestFullBackend puts the chunks on an 8 MiB tmpfs: a write that does not
// fit fails with ENOSPC at close, commits nothing (the file keeps its last
// committed version), and space freed later can be used again.
func TestFullBackend(t *testing.T) {
	fstest.RequireFUSE(t)
	backendDir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", backendDir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs for the backend: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", backendDir).Run() })
	d := fstest.Start(t, fstest.Options{Backend: "dir://" + backendDir, Args: []string{"--gc-grace", "0s"}})
	mnt := d.Mountpoint
	src := t.TempDir()
	old := randomFile(t, filepath.Join(src, "old"), 2<<20)
	randomFile(t, filepath.Join(src, "huge"), 20<<20)
	sh(t, mnt, "cp "+src+"/old f")

	// Overwrite f with 20 MiB: the backend fills up, close reports ENOSPC.
	cmd := exec.Command("cp", src+"/huge", "f")
	cmd.Dir = mnt
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "No space left on device") {
		t.Fatalf("cp of 20 MiB onto an 8 MiB backend: err %v, output %q; want ENOSPC", err, out)
	}
	// cp truncated f before writing (O_TRUNC commits size 0 at once, as on
	// ext4), but none of the 20 MiB that did not fit was committed.
	// The kernel's attribute cache may show the size of the failed
	// writes for up to --attr-timeout.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := os.Stat(filepath.Join(mnt, "f"))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() == 0 || st.Size() == int64(len(old)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after ENOSPC f has %d bytes: a partial write was committed", st.Size())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Writing a file that fits works again once the failed data is gone.
	sh(t, mnt, "rm -f f && cp "+src+"/old g && cmp "+src+"/old g")
	d.Restart(t)
	sh(t, mnt, "cmp "+src+"/old g && test ! -e f")
}
