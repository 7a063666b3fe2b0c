package vfs

import (
	"syscall"
	"testing"

	"github.com/dfsproject/dfs/store/meta"
)

func (e *env) inodes() uint64 {
	e.t.Helper()
	st, err := e.fsm.Stats(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return st.Inodes
}

func tmpfile(e *env, v *VFS, c Caller, parent meta.Ino) (meta.Attr, *Handle) {
	e.t.Helper()
	a, h, err := v.Tmpfile(e.ctx, c, parent, 0o600, syscall.O_RDWR)
	if err != nil {
		e.t.Fatalf("tmpfile: %v", err)
	}
	return a, h
}

// TestTmpfile: an O_TMPFILE file is an open orphan in no directory,
// reclaimed like an unlinked file unless Link names it, after which it is
// an ordinary file whose writes the last Release commits.
func TestTmpfile(t *testing.T) {
	e := newEnv(t, envOpt{})
	v, spy := spyVFS(e)
	base := e.inodes()

	t.Run("never linked", func(t *testing.T) {
		a, h := tmpfile(e, v, Caller{Uid: 7, Gid: 8}, meta.RootIno)
		if a.Nlink != 0 || a.Mode != syscall.S_IFREG|0o600 || a.Uid != 7 || a.Gid != 8 || a.Size != 0 {
			t.Fatalf("tmpfile = %+v", a)
		}
		v.Remember(a.Ino) // the kernel's inode, as the node layer reports it
		if _, err := v.Write(e.ctx, h, []byte("temporary"), 0); err != nil {
			t.Fatal(err)
		}
		if got := e.read(v, h, 0, 100); string(got) != "temporary" {
			t.Fatalf("read %q", got)
		}
		if got, err := v.GetAttr(e.ctx, a.Ino); err != nil || got.Nlink != 0 || got.Size != 9 {
			t.Fatalf("getattr = %+v, %v", got, err)
		}
		if ents, err := v.ReadDir(e.ctx, meta.RootIno); err != nil || len(ents) != 0 {
			t.Fatalf("root lists %+v, %v", ents, err)
		}
		if err := v.Flush(e.ctx, h); err != nil { // close(2)
			t.Fatal(err)
		}
		e.release(v, h)
		if !exists(e, a.Ino) {
			t.Fatal("reclaimed while the kernel holds it")
		}
		v.Forget(e.ctx, a.Ino)
		if exists(e, a.Ino) || spy.reclaims(a.Ino) != 1 {
			t.Fatalf("after forget: exists %v, %d reclaims", exists(e, a.Ino), spy.reclaims(a.Ino))
		}
		if n := e.inodes(); n != base {
			t.Fatalf("%d inodes, %d before", n, base)
		}
	})

	t.Run("linked while open", func(t *testing.T) {
		a, h := tmpfile(e, v, root, meta.RootIno)
		v.Remember(a.Ino)
		if _, err := v.Write(e.ctx, h, []byte("kept"), 0); err != nil {
			t.Fatal(err)
		}
		l, err := v.Link(e.ctx, a.Ino, meta.RootIno, "named")
		if err != nil {
			t.Fatalf("link: %v", err)
		}
		if l.Nlink != 1 || l.Ino != a.Ino || l.Size != 4 {
			t.Fatalf("link = %+v", l)
		}
		// No flush: the last release commits the writes of a file that
		// has a name again.
		e.release(v, h)
		v.Forget(e.ctx, a.Ino)
		if !exists(e, a.Ino) || spy.reclaims(a.Ino) != 0 {
			t.Fatalf("a linked tmpfile was reclaimed")
		}
		got, err := e.freshVFS().Lookup(e.ctx, meta.RootIno, "named")
		if err != nil || got.Ino != a.Ino || got.Nlink != 1 {
			t.Fatalf("lookup = %+v, %v", got, err)
		}
		if data := e.readAll(e.freshVFS(), a.Ino); string(data) != "kept" {
			t.Fatalf("read %q", data)
		}
		if o, _ := e.fsm.Orphans(e.ctx); len(o) != 0 {
			t.Fatalf("orphans %v", o)
		}
		if err := v.Unlink(e.ctx, meta.RootIno, "named"); err != nil {
			t.Fatal(err)
		}
		if exists(e, a.Ino) {
			t.Fatal("not reclaimed after unlink")
		}
	})

	t.Run("unlinked file cannot be linked", func(t *testing.T) {
		a, h := mkfile(e, v, "plain")
		v.Remember(a.Ino)
		if err := v.Unlink(e.ctx, meta.RootIno, "plain"); err != nil {
			t.Fatal(err)
		}
		_, err := v.Link(e.ctx, a.Ino, meta.RootIno, "back")
		wantErrno(t, err, syscall.ENOENT)
		e.release(v, h)
		v.Forget(e.ctx, a.Ino)
		if exists(e, a.Ino) {
			t.Fatal("not reclaimed")
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, _, err := v.Tmpfile(e.ctx, root, 9999, 0o600, syscall.O_RDWR)
		wantErrno(t, err, syscall.ENOENT)
		a, h := mkfile(e, v, "notdir")
		e.release(v, h)
		_, _, err = v.Tmpfile(e.ctx, root, a.Ino, 0o600, syscall.O_RDWR)
		wantErrno(t, err, syscall.ENOTDIR)
		if err := v.Unlink(e.ctx, meta.RootIno, "notdir"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("left by a crash", func(t *testing.T) {
		a, h := tmpfile(e, v, root, meta.RootIno)
		v.Remember(a.Ino)
		if _, err := v.Write(e.ctx, h, []byte("lost"), 0); err != nil {
			t.Fatal(err)
		}
		if err := v.Flush(e.ctx, h); err != nil {
			t.Fatal(err)
		}
		// The next start (a new VFS on the same metadata) reclaims it.
		if err := e.newVFS(e.cs).ReclaimOrphans(e.ctx); err != nil {
			t.Fatal(err)
		}
		if exists(e, a.Ino) {
			t.Fatal("not reclaimed at start")
		}
	})
	if n := e.inodes(); n != base {
		t.Errorf("%d inodes, %d before", n, base)
	}
}

// TestRemovedDirectory: a removed directory the kernel holds keeps its
// attributes (nlink 0), lists nothing, takes no new entries, and is
// reclaimed when the kernel forgets it (or at once if it does not hold
// it, or at the next start).
func TestRemovedDirectory(t *testing.T) {
	e := newEnv(t, envOpt{})
	v, spy := spyVFS(e)
	base := e.inodes()
	mkdir := func(parent meta.Ino, name string) meta.Attr {
		t.Helper()
		a, err := v.Mkdir(e.ctx, root, parent, name, 0o700)
		if err != nil {
			t.Fatalf("mkdir %s: %v", name, err)
		}
		return a
	}

	t.Run("rmdir while held", func(t *testing.T) {
		d := mkdir(meta.RootIno, "d")
		v.Remember(d.Ino)
		if err := v.Rmdir(e.ctx, meta.RootIno, "d"); err != nil {
			t.Fatal(err)
		}
		a, err := v.GetAttr(e.ctx, d.Ino)
		if err != nil || a.Nlink != 0 || a.Mode != syscall.S_IFDIR|0o700 {
			t.Fatalf("getattr of the removed dir = %+v, %v", a, err)
		}
		if ents, err := v.ReadDir(e.ctx, d.Ino); err != nil || len(ents) != 0 {
			t.Fatalf("readdir = %+v, %v", ents, err)
		}
		_, _, err = v.Create(e.ctx, root, d.Ino, "f", 0o644, syscall.O_RDWR)
		wantErrno(t, err, syscall.ENOENT)
		_, err = v.Mkdir(e.ctx, root, d.Ino, "s", 0o755)
		wantErrno(t, err, syscall.ENOENT)
		_, _, err = v.Tmpfile(e.ctx, root, d.Ino, 0o600, syscall.O_RDWR)
		wantErrno(t, err, syscall.ENOENT)
		if n := e.inodes(); n != base+1 {
			t.Fatalf("%d inodes, want %d", n, base+1)
		}
		v.Forget(e.ctx, d.Ino)
		if exists(e, d.Ino) || spy.reclaims(d.Ino) != 1 {
			t.Fatalf("after forget: exists %v, %d reclaims", exists(e, d.Ino), spy.reclaims(d.Ino))
		}
	})

	t.Run("renamed over while held", func(t *testing.T) {
		a := mkdir(meta.RootIno, "a")
		b := mkdir(meta.RootIno, "b")
		v.Remember(b.Ino)
		if err := v.Rename(e.ctx, meta.RootIno, "a", meta.RootIno, "b", 0); err != nil {
			t.Fatal(err)
		}
		if got, err := v.GetAttr(e.ctx, b.Ino); err != nil || got.Nlink != 0 || !got.IsDir() {
			t.Fatalf("getattr of the replaced dir = %+v, %v", got, err)
		}
		v.Forget(e.ctx, b.Ino)
		if exists(e, b.Ino) {
			t.Fatal("not reclaimed at forget")
		}
		if err := v.Rmdir(e.ctx, meta.RootIno, "b"); err != nil {
			t.Fatal(err)
		}
		if exists(e, a.Ino) {
			t.Fatal("an unreferenced removed directory was not reclaimed at once")
		}
	})

	t.Run("left by a crash", func(t *testing.T) {
		d := mkdir(meta.RootIno, "c")
		v.Remember(d.Ino)
		if err := v.Rmdir(e.ctx, meta.RootIno, "c"); err != nil {
			t.Fatal(err)
		}
		if err := e.newVFS(e.cs).ReclaimOrphans(e.ctx); err != nil {
			t.Fatal(err)
		}
		if exists(e, d.Ino) {
			t.Fatal("not reclaimed at start")
		}
	})
	if n := e.inodes(); n != base {
		t.Errorf("%d inodes, %d before", n, base)
	}
	if a, err := v.GetAttr(e.ctx, meta.RootIno); err != nil || a.Nlink != 2 {
		t.Errorf("root = %+v, %v", a, err)
	}
}
