package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/storetest"
	"golang.org/x/sys/unix"
)

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend { return store.NewMemory() })
}

func TestDirConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend {
		d, err := store.NewDir(filepath.Join(t.TempDir(), "root"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestMemoryCapacity(t *testing.T) {
	ctx := context.Background()
	m := store.NewMemory()
	m.SetCapacity(10)
	put := func(key string, n int) error {
		return m.Put(ctx, key, bytes.NewReader(make([]byte, n)), int64(n))
	}
	if err := put("a", 6); err != nil {
		t.Fatal(err)
	}
	if err := put("b", 5); !errors.Is(err, store.ErrNoSpace) {
		t.Fatalf("Put beyond capacity: %v, want ErrNoSpace", err)
	}
	if _, err := m.Stat(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failed Put stored something: %v", err)
	}
	if err := put("a", 10); err != nil { // overwriting frees the old size
		t.Fatalf("overwrite within capacity: %v", err)
	}
	sp, err := m.Space(ctx)
	if err != nil || sp != (store.Space{Total: 10, Free: 0}) {
		t.Fatalf("Space = %+v, %v", sp, err)
	}
	if err := m.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := put("b", 10); err != nil {
		t.Fatalf("Put after Delete freed space: %v", err)
	}
	m.SetCapacity(0)
	if err := put("c", 1000); err != nil {
		t.Fatalf("unlimited: %v", err)
	}
}

func newDir(t *testing.T) (*store.Dir, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	d, err := store.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, root
}

func TestDirLayoutAndTmp(t *testing.T) {
	ctx := context.Background()
	d, root := newDir(t)
	if err := d.Put(ctx, "chunks/ab/cd/x", strings.NewReader("hello"), 5); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "chunks", "ab", "cd", "x"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("file on disk = %q, %v", got, err)
	}
	// Failed Puts leave no temporary file.
	d.Put(ctx, "short", strings.NewReader("abc"), 10)
	if ents, _ := os.ReadDir(filepath.Join(root, ".tmp")); len(ents) != 0 {
		t.Fatalf(".tmp holds %d files after a failed Put", len(ents))
	}
	// .tmp is private to the backend.
	for _, k := range []string{".tmp", ".tmp/x"} {
		if err := d.Put(ctx, k, strings.NewReader("x"), 1); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := d.Stat(ctx, k); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	os.WriteFile(filepath.Join(root, ".tmp", "put-leftover"), []byte("junk"), 0o600)
	n := 0
	if err := d.List(ctx, "", func(oi store.ObjectInfo) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("List = %d objects, %v; want 1 (.tmp skipped)", n, err)
	}
	// Keys cannot escape the root.
	if err := d.Put(ctx, "../escape", strings.NewReader("x"), 1); !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("Put(../escape) = %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "escape")); !os.IsNotExist(err) {
		t.Fatalf("a file was written outside the root: %v", err)
	}
	sp, err := d.Space(ctx)
	if err != nil || sp.Total == 0 || sp.Free > sp.Total {
		t.Fatalf("Space = %+v, %v", sp, err)
	}
}

func TestDirRefusesBadRoot(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := store.NewDir(f); err == nil {
		t.Fatal("NewDir on a file: no error")
	}
	if _, err := store.NewDir(""); err == nil {
		t.Fatal("NewDir(\"\"): no error")
	}
}

// TestDirNoSpace fills a tiny tmpfs (needs root; skipped otherwise).
func TestDirNoSpace(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs")
	}
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a tmpfs (%v)", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	ctx := context.Background()
	d, err := store.NewDir(filepath.Join(mnt, "chunks"))
	if err != nil {
		t.Fatal(err)
	}
	err = d.Put(ctx, "big", bytes.NewReader(make([]byte, 1<<20)), 1<<20)
	if !errors.Is(err, store.ErrNoSpace) {
		t.Fatalf("Put of 1 MiB on a 256 KiB tmpfs: %v, want ErrNoSpace", err)
	}
	if _, err := d.Stat(ctx, "big"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failed Put left an object: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(mnt, "chunks", ".tmp")); len(ents) != 0 {
		t.Fatalf("failed Put left %d temporary files", len(ents))
	}
	sp, err := d.Space(ctx)
	if err != nil || sp.Total != 256<<10 {
		t.Fatalf("Space = %+v, %v; want total 256 KiB", sp, err)
	}
}

// TestDirRemoveStaleTemp: temporary files older than an hour go, at open
// and on RemoveStaleTemp; a young one (a Put in progress) stays.
func TestDirRemoveStaleTemp(t *testing.T) {
	root := t.TempDir()
	d, err := store.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(root, ".tmp", "put-old")
	young := filepath.Join(root, ".tmp", "put-young")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	if n := d.RemoveStaleTemp(); n != 1 {
		t.Fatalf("RemoveStaleTemp removed %d files; want 1", n)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the stale file is still there (%v)", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("the young file is gone: %v", err)
	}
}
