package meta

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"syscall"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/dfsproject/dfs/store"
)

// applier applies one command inside one badger transaction. Handlers
// validate everything before they change anything, and return the
// command's errno; a non-nil error is a storage failure (EIO). Inodes are
// cached in the applier and written once by finish, so a handler may load
// the same inode twice (rename within one directory) and get the same
// *inode.
type applier struct {
	f   *FSM
	txn *badger.Txn
	cmd *Cmd
	now int64
	st  state
	res Result
	// index is the command's log index (set for the final transaction
	// only: OpAbsolve records it).
	index uint64

	inodes map[Ino]*inode // loaded inodes; nil: missing or deleted
	dirty  map[Ino]struct{}
	zeroed []store.ChunkID // chunks whose count fell to 0 here

	// ops counts slot, reference and xattr operations. With limit > 0,
	// exceeding limit aborts with errTooBig so that the command is split.
	ops   int
	limit int
	// skipSlots: the slot work of a Commit or ForgetChunks was done by
	// earlier partial transactions (split.go); this is the final one.
	skipSlots bool
}

func newApplier(f *FSM, txn *badger.Txn, cmd *Cmd) (*applier, error) {
	st, err := loadState(txn)
	if err != nil {
		return nil, fmt.Errorf("load stats: %w", err)
	}
	return &applier{
		f: f, txn: txn, cmd: cmd, now: cmd.Now, st: st,
		inodes: make(map[Ino]*inode), dirty: make(map[Ino]struct{}),
	}, nil
}

// apply dispatches on the op.
func (a *applier) apply() (syscall.Errno, error) {
	switch a.cmd.Op {
	case OpCreate:
		return a.create()
	case OpMkdir:
		return a.mkdir()
	case OpSymlink:
		return a.symlink()
	case OpLink:
		return a.link()
	case OpUnlink:
		return a.unlink()
	case OpRmdir:
		return a.rmdir()
	case OpRename:
		return a.rename()
	case OpSetAttr:
		return a.setattr()
	case OpCommit:
		return a.commit()
	case OpSetXattr:
		return a.setxattr()
	case OpRemoveXattr:
		return a.removexattr()
	case OpReclaim:
		return a.reclaim()
	case OpForgetChunks:
		return a.forget()
	case OpTmpfile:
		return a.tmpfile()
	case OpSetLayout:
		return a.setLayout()
	case OpCondemn:
		return a.condemn()
	case OpAbsolve:
		return a.absolve()
	}
	return syscall.EINVAL, nil
}

// finish writes the changed inodes and the stats with the applied index,
// and fills Result.Freed from prior and a.zeroed: the chunks that fell to
// zero references during the command and are still at zero.
func (a *applier) finish(index uint64, prior []store.ChunkID) error {
	for ino := range a.dirty {
		var err error
		if n := a.inodes[ino]; n == nil {
			err = a.txn.Delete(inodeKey(ino))
		} else {
			err = a.txn.Set(inodeKey(ino), encodeInode(n))
		}
		if err != nil {
			return fmt.Errorf("write inode %d: %w", ino, err)
		}
	}
	a.st.Applied = index
	if err := a.txn.Set(keyStats, encodeState(&a.st)); err != nil {
		return fmt.Errorf("write stats: %w", err)
	}
	all := append(slices.Clip(prior), a.zeroed...)
	slices.SortFunc(all, func(x, y store.ChunkID) int { return bytes.Compare(x[:], y[:]) })
	all = slices.Compact(all)
	for _, id := range all {
		count, _, found, err := a.getRef(id)
		if err != nil {
			return err
		}
		if found && count == 0 {
			a.res.Freed = append(a.res.Freed, id)
		}
	}
	if a.cmd.ReqID != (ReqID{}) {
		return rememberRequest(a.txn, index, a.f.reqWindow, a.cmd.ReqID, &a.res)
	}
	return nil
}

// count records n slot/xattr/reference operations.
func (a *applier) count(n int) error {
	a.ops += n
	if a.limit > 0 && a.ops > a.limit {
		return errTooBig
	}
	return nil
}

// get returns a copy of key's value.
func (a *applier) get(key []byte) ([]byte, bool, error) {
	return getValue(a.txn, key)
}

func (a *applier) has(key []byte) (bool, error) {
	_, err := a.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// inode returns inode ino, or nil if it does not exist.
func (a *applier) inode(ino Ino) (*inode, error) {
	if n, ok := a.inodes[ino]; ok {
		return n, nil
	}
	v, found, err := a.get(inodeKey(ino))
	if err != nil {
		return nil, fmt.Errorf("get inode %d: %w", ino, err)
	}
	var n *inode
	if found {
		if n, err = decodeInode(v); err != nil {
			return nil, fmt.Errorf("inode %d: %w", ino, err)
		}
	}
	a.inodes[ino] = n
	return n, nil
}

// entryInode returns the inode that a directory entry names; a dangling
// entry is corruption.
func (a *applier) entryInode(dir Ino, name string, ino Ino) (*inode, error) {
	n, err := a.inode(ino)
	if err == nil && n == nil {
		err = fmt.Errorf("%w: entry %q of directory %d names missing inode %d", errCorrupt, name, dir, ino)
	}
	return n, err
}

func (a *applier) touch(ino Ino) { a.dirty[ino] = struct{}{} }

// newInode allocates the next inode number for n.
func (a *applier) newInode(n *inode) Ino {
	ino := a.st.NextIno
	a.st.NextIno++
	a.st.Inodes++
	a.inodes[ino] = n
	a.touch(ino)
	return ino
}

// dir returns directory ino, or ENOENT / ENOTDIR. A removed directory
// (an orphan, nlink 0) is ENOENT too: nothing may be made in it, as on
// Linux, and it has no entries to look up or remove.
func (a *applier) dir(ino Ino) (*inode, syscall.Errno, error) {
	n, err := a.inode(ino)
	switch {
	case err != nil:
		return nil, 0, err
	case n == nil:
		return nil, syscall.ENOENT, nil
	case !n.isDir():
		return nil, syscall.ENOTDIR, nil
	case n.Nlink == 0:
		return nil, syscall.ENOENT, nil
	}
	return n, 0, nil
}

// parentFor validates name and returns directory parent.
func (a *applier) parentFor(parent Ino, name string) (*inode, syscall.Errno, error) {
	if e := validName(name); e != 0 {
		return nil, e, nil
	}
	return a.dir(parent)
}

// validName checks a directory entry name.
func validName(name string) syscall.Errno {
	switch {
	case name == "" || name == "." || name == "..":
		return syscall.EINVAL
	case strings.ContainsAny(name, "/\x00"):
		return syscall.EINVAL
	case len(name) > MaxNameLen:
		return syscall.ENAMETOOLONG
	}
	return 0
}

// lookup returns the inode number that name in dir names.
func (a *applier) lookup(dir Ino, name string) (Ino, bool, error) {
	v, found, err := a.get(direntKey(dir, name))
	if err != nil || !found {
		return 0, false, err
	}
	ino, _, err := decodeDirent(v)
	if err != nil {
		return 0, false, fmt.Errorf("entry %q of directory %d: %w", name, dir, err)
	}
	return ino, true, nil
}

// addEntry writes the entry dir/name -> ino and updates dir's times.
func (a *applier) addEntry(dirIno Ino, dir *inode, name string, ino Ino, mode uint32) error {
	if err := a.txn.Set(direntKey(dirIno, name), encodeDirent(ino, mode)); err != nil {
		return fmt.Errorf("write entry %q in %d: %w", name, dirIno, err)
	}
	a.dirChanged(dirIno, dir)
	return nil
}

func (a *applier) removeEntry(dirIno Ino, dir *inode, name string) error {
	if err := a.txn.Delete(direntKey(dirIno, name)); err != nil {
		return fmt.Errorf("delete entry %q in %d: %w", name, dirIno, err)
	}
	a.dirChanged(dirIno, dir)
	return nil
}

func (a *applier) dirChanged(dirIno Ino, dir *inode) {
	dir.Mtime, dir.Ctime = a.now, a.now
	a.touch(dirIno)
}

// newInodeIn builds an inode created in directory p: times now, and the
// group of a setgid directory (and, for directories, its setgid bit).
func (a *applier) newInodeIn(p *inode, mode uint32) *inode {
	n := &inode{Mode: mode, Uid: a.cmd.Uid, Gid: a.cmd.Gid, Nlink: 1, Atime: a.now, Mtime: a.now, Ctime: a.now}
	if p.Mode&syscall.S_ISGID != 0 {
		n.Gid = p.Gid
		if n.isDir() {
			n.Mode |= syscall.S_ISGID
		}
	}
	return n
}

func (a *applier) setResult(ino Ino, n *inode) {
	at := n.attr(ino)
	a.res.Attr = &at
}

func (a *applier) create() (syscall.Errno, error) {
	c := a.cmd
	typ := c.Mode & syscall.S_IFMT
	if typ == 0 {
		typ = syscall.S_IFREG
	}
	switch typ {
	case syscall.S_IFREG, syscall.S_IFIFO, syscall.S_IFSOCK, syscall.S_IFCHR, syscall.S_IFBLK:
	default:
		return syscall.EINVAL, nil
	}
	p, e, err := a.parentFor(c.Parent, c.Name)
	if e != 0 || err != nil {
		return e, err
	}
	ino, found, err := a.lookup(c.Parent, c.Name)
	if err != nil {
		return 0, err
	}
	if found {
		if c.Excl {
			return syscall.EEXIST, nil
		}
		n, err := a.entryInode(c.Parent, c.Name, ino)
		switch {
		case err != nil:
			return 0, err
		case n.isDir():
			return syscall.EISDIR, nil
		case !n.isReg():
			return syscall.EEXIST, nil
		}
		a.setResult(ino, n)
		return 0, nil
	}
	n := a.newInodeIn(p, typ|c.Mode&0o7777)
	if typ == syscall.S_IFCHR || typ == syscall.S_IFBLK {
		n.Rdev = c.Rdev
	}
	ino = a.newInode(n)
	if err := a.addEntry(c.Parent, p, c.Name, ino, n.Mode); err != nil {
		return 0, err
	}
	a.setResult(ino, n)
	return 0, nil
}

// tmpfile makes an anonymous regular file (open(2) with O_TMPFILE in
// directory Parent): owned as create would make it in Parent (the caller,
// or the group of a setgid directory), but with no entry, nlink 0 and the
// Tmpfile flag. It is an orphan from the start, so a crash before anyone
// links it leaves it to the reclaim at the next start; OpLink may still
// give it a name. Parent's times do not change: it gains no entry.
func (a *applier) tmpfile() (syscall.Errno, error) {
	c := a.cmd
	if typ := c.Mode & syscall.S_IFMT; typ != 0 && typ != syscall.S_IFREG {
		return syscall.EINVAL, nil
	}
	p, e, err := a.dir(c.Parent)
	if e != 0 || err != nil {
		return e, err
	}
	n := a.newInodeIn(p, syscall.S_IFREG|c.Mode&0o7777)
	n.Nlink = 0
	n.Tmpfile = true
	ino := a.newInode(n)
	if err := a.orphan(ino); err != nil {
		return 0, err
	}
	a.setResult(ino, n)
	return 0, nil
}

func (a *applier) mkdir() (syscall.Errno, error) {
	c := a.cmd
	p, e, err := a.parentFor(c.Parent, c.Name)
	if e != 0 || err != nil {
		return e, err
	}
	if _, found, err := a.lookup(c.Parent, c.Name); err != nil || found {
		return syscall.EEXIST, err
	}
	if p.Nlink >= MaxLinks {
		return syscall.EMLINK, nil
	}
	n := a.newInodeIn(p, syscall.S_IFDIR|c.Mode&0o7777)
	n.Nlink = 2
	n.Parent = c.Parent
	ino := a.newInode(n)
	p.Nlink++
	if err := a.addEntry(c.Parent, p, c.Name, ino, n.Mode); err != nil {
		return 0, err
	}
	a.setResult(ino, n)
	return 0, nil
}

func (a *applier) symlink() (syscall.Errno, error) {
	c := a.cmd
	switch {
	case c.Target == "":
		return syscall.ENOENT, nil
	case len(c.Target) > MaxSymlinkLen:
		return syscall.ENAMETOOLONG, nil
	}
	p, e, err := a.parentFor(c.Parent, c.Name)
	if e != 0 || err != nil {
		return e, err
	}
	if _, found, err := a.lookup(c.Parent, c.Name); err != nil || found {
		return syscall.EEXIST, err
	}
	n := a.newInodeIn(p, syscall.S_IFLNK|0o777)
	n.Data = []byte(c.Target)
	n.Size = uint64(len(c.Target))
	ino := a.newInode(n)
	if err := a.addEntry(c.Parent, p, c.Name, ino, n.Mode); err != nil {
		return 0, err
	}
	a.setResult(ino, n)
	return 0, nil
}

func (a *applier) link() (syscall.Errno, error) {
	c := a.cmd
	n, err := a.inode(c.Ino)
	if err != nil || n == nil {
		return syscall.ENOENT, err
	}
	p, e, err := a.parentFor(c.Parent, c.Name)
	if e != 0 || err != nil {
		return e, err
	}
	if _, found, err := a.lookup(c.Parent, c.Name); err != nil || found {
		return syscall.EEXIST, err
	}
	switch {
	case n.isDir():
		return syscall.EPERM, nil
	case n.Nlink == 0 && !n.Tmpfile:
		// Unlinked: gone for good, only awaiting its reclaim.
		return syscall.ENOENT, nil
	case n.Nlink >= MaxLinks:
		return syscall.EMLINK, nil
	}
	if n.Nlink == 0 {
		// An O_TMPFILE file getting its first name stops being an
		// orphan, and an ordinary file.
		if err := a.txn.Delete(orphanKey(c.Ino)); err != nil {
			return 0, fmt.Errorf("delete orphan %d: %w", c.Ino, err)
		}
		n.Tmpfile = false
	}
	n.Nlink++
	n.Ctime = a.now
	a.touch(c.Ino)
	if err := a.addEntry(c.Parent, p, c.Name, c.Ino, n.Mode); err != nil {
		return 0, err
	}
	a.setResult(c.Ino, n)
	return 0, nil
}

// orphan records ino, whose nlink is now 0, as an orphan kept until
// OpReclaim, and lists it in the result.
func (a *applier) orphan(ino Ino) error {
	if err := a.txn.Set(orphanKey(ino), nil); err != nil {
		return fmt.Errorf("write orphan %d: %w", ino, err)
	}
	a.res.Orphans = append(a.res.Orphans, ino)
	return nil
}

// dropLink removes one link of non-directory ino; at nlink 0 the inode
// becomes an orphan, kept until OpReclaim.
func (a *applier) dropLink(ino Ino, n *inode) error {
	if n.Nlink > 0 {
		n.Nlink--
	}
	n.Ctime = a.now
	a.touch(ino)
	if n.Nlink == 0 {
		return a.orphan(ino)
	}
	return nil
}

func (a *applier) unlink() (syscall.Errno, error) {
	c := a.cmd
	p, e, err := a.parentFor(c.Parent, c.Name)
	if e != 0 || err != nil {
		return e, err
	}
	ino, found, err := a.lookup(c.Parent, c.Name)
	if err != nil || !found {
		return syscall.ENOENT, err
	}
	n, err := a.entryInode(c.Parent, c.Name, ino)
	if err != nil {
		return 0, err
	}
	if n.isDir() {
		return syscall.EISDIR, nil
	}
	if err := a.removeEntry(c.Parent, p, c.Name); err != nil {
		return 0, err
	}
	if err := a.dropLink(ino, n); err != nil {
		return 0, err
	}
	a.setResult(ino, n)
	return 0, nil
}

// dirEmpty reports whether directory ino has no entries.
func (a *applier) dirEmpty(ino Ino) bool {
	it := a.txn.NewIterator(badger.IteratorOptions{Prefix: direntPrefix(ino)})
	defer it.Close()
	it.Rewind()
	return !it.Valid()
}

// removeDir turns empty directory ino, whose entry the caller removed,
// into an orphan: nlink 0 (as ext4 reports a removed directory), kept with
// its attributes and xattrs until OpReclaim, so a process that has it open
// (or as its working directory) can still stat it. Nothing can be made in
// it any more (see dir). The caller fixes the parent's link count.
func (a *applier) removeDir(ino Ino, n *inode) error {
	n.Nlink = 0
	n.Ctime = a.now
	a.touch(ino)
	return a.orphan(ino)
}

func (a *applier) rmdir() (syscall.Errno, error) {
	c := a.cmd
	p, e, err := a.parentFor(c.Parent, c.Name)
	if e != 0 || err != nil {
		return e, err
	}
	ino, found, err := a.lookup(c.Parent, c.Name)
	if err != nil || !found {
		return syscall.ENOENT, err
	}
	n, err := a.entryInode(c.Parent, c.Name, ino)
	switch {
	case err != nil:
		return 0, err
	case !n.isDir():
		return syscall.ENOTDIR, nil
	case !a.dirEmpty(ino):
		return syscall.ENOTEMPTY, nil
	}
	if err := a.removeEntry(c.Parent, p, c.Name); err != nil {
		return 0, err
	}
	if err := a.removeDir(ino, n); err != nil {
		return 0, err
	}
	p.Nlink--
	a.setResult(ino, n)
	return 0, nil
}

// maxDepth bounds the walk up the tree: deeper means a loop (corruption).
const maxDepth = 1 << 20

// inSubtree reports whether ino is dir or lies below it, by walking up
// the parent links from ino.
func (a *applier) inSubtree(dir, ino Ino) (bool, error) {
	for range maxDepth {
		if ino == dir {
			return true, nil
		}
		if ino == RootIno {
			return false, nil
		}
		n, err := a.inode(ino)
		if err != nil {
			return false, err
		}
		if n == nil || !n.isDir() {
			return false, fmt.Errorf("%w: directory parent chain reaches %d, not a directory", errCorrupt, ino)
		}
		ino = n.Parent
	}
	return false, fmt.Errorf("%w: directory parent chain deeper than %d", errCorrupt, maxDepth)
}

func (a *applier) rename() (syscall.Errno, error) {
	c := a.cmd
	if c.Flags&^(RenameNoReplace|RenameExchange) != 0 || c.Flags == RenameNoReplace|RenameExchange {
		return syscall.EINVAL, nil
	}
	exchange := c.Flags&RenameExchange != 0
	op, e, err := a.parentFor(c.Parent, c.Name)
	if e != 0 || err != nil {
		return e, err
	}
	np, e, err := a.parentFor(c.NewParent, c.NewName)
	if e != 0 || err != nil {
		return e, err
	}
	srcIno, found, err := a.lookup(c.Parent, c.Name)
	if err != nil || !found {
		return syscall.ENOENT, err
	}
	src, err := a.entryInode(c.Parent, c.Name, srcIno)
	if err != nil {
		return 0, err
	}
	dstIno, dstFound, err := a.lookup(c.NewParent, c.NewName)
	if err != nil {
		return 0, err
	}
	switch {
	case exchange && !dstFound:
		return syscall.ENOENT, nil
	case dstFound && c.Flags&RenameNoReplace != 0:
		return syscall.EEXIST, nil
	case dstFound && dstIno == srcIno:
		// The same name, or two links to one file: nothing to do.
		a.setResult(srcIno, src)
		return 0, nil
	}
	var dst *inode
	if dstFound {
		if dst, err = a.entryInode(c.NewParent, c.NewName, dstIno); err != nil {
			return 0, err
		}
	}
	moved := c.Parent != c.NewParent
	if moved && src.isDir() {
		if in, err := a.inSubtree(srcIno, c.NewParent); err != nil || in {
			return syscall.EINVAL, err
		}
	}
	if moved && exchange && dst.isDir() {
		if in, err := a.inSubtree(dstIno, c.Parent); err != nil || in {
			return syscall.EINVAL, err
		}
	}
	if dstFound && !exchange {
		switch {
		case src.isDir() && !dst.isDir():
			return syscall.ENOTDIR, nil
		case !src.isDir() && dst.isDir():
			return syscall.EISDIR, nil
		case dst.isDir() && !a.dirEmpty(dstIno):
			return syscall.ENOTEMPTY, nil
		}
	}
	if moved {
		// A parent gaining a subdirectory gains a link.
		srcDir, dstDir := src.isDir(), dstFound && dst.isDir()
		if srcDir && !dstDir && np.Nlink >= MaxLinks {
			return syscall.EMLINK, nil
		}
		if exchange && dstDir && !srcDir && op.Nlink >= MaxLinks {
			return syscall.EMLINK, nil
		}
	}

	if exchange {
		if err := a.addEntry(c.Parent, op, c.Name, dstIno, dst.Mode); err != nil {
			return 0, err
		}
		if err := a.addEntry(c.NewParent, np, c.NewName, srcIno, src.Mode); err != nil {
			return 0, err
		}
		if moved {
			if src.isDir() {
				op.Nlink--
				np.Nlink++
				src.Parent = c.NewParent
			}
			if dst.isDir() {
				np.Nlink--
				op.Nlink++
				dst.Parent = c.Parent
			}
		}
		dst.Ctime = a.now
		a.touch(dstIno)
	} else {
		if dstFound {
			if dst.isDir() {
				if err := a.removeDir(dstIno, dst); err != nil {
					return 0, err
				}
				np.Nlink--
			} else if err := a.dropLink(dstIno, dst); err != nil {
				return 0, err
			}
		}
		if err := a.removeEntry(c.Parent, op, c.Name); err != nil {
			return 0, err
		}
		if err := a.addEntry(c.NewParent, np, c.NewName, srcIno, src.Mode); err != nil {
			return 0, err
		}
		if moved && src.isDir() {
			op.Nlink--
			np.Nlink++
			src.Parent = c.NewParent
		}
	}
	src.Ctime = a.now
	a.touch(srcIno)
	a.setResult(srcIno, src)
	return 0, nil
}

// maxChunkSize bounds Cmd.ChunkSize (ChunkRef.Len is 32 bits).
const maxChunkSize = 1 << 32

func validChunkSize(cs uint64) bool { return cs > 0 && cs <= maxChunkSize }

// checkSetAttr validates a SetAttr of inode n (nil: missing).
func (a *applier) checkSetAttr(n *inode) syscall.Errno {
	c := a.cmd
	if n == nil {
		return syscall.ENOENT
	}
	if c.Valid&SetSize != 0 {
		switch {
		case n.isDir():
			return syscall.EISDIR
		case !n.isReg():
			return syscall.EINVAL
		case c.Size > math.MaxInt64:
			return syscall.EFBIG
		case !n.Inline && c.Size > 0 && c.Size < n.Size && !validChunkSize(c.ChunkSize):
			return syscall.EINVAL
		}
	}
	return 0
}

func (a *applier) setattr() (syscall.Errno, error) {
	c := a.cmd
	n, err := a.inode(c.Ino)
	if err != nil {
		return 0, err
	}
	if e := a.checkSetAttr(n); e != 0 {
		return e, nil
	}
	v := c.Valid
	if v&SetMode != 0 {
		n.Mode = n.Mode&syscall.S_IFMT | c.Mode&0o7777
	}
	if v&(SetUid|SetGid) != 0 {
		if v&SetUid != 0 {
			n.Uid = c.Uid
		}
		if v&SetGid != 0 {
			n.Gid = c.Gid
		}
		// chown of a non-directory drops setuid, and setgid when it
		// means set-group-ID (group-exec set), unless the same command
		// sets the mode explicitly.
		if !n.isDir() && v&SetMode == 0 {
			n.Mode &^= syscall.S_ISUID
			if n.Mode&(syscall.S_ISGID|syscall.S_IXGRP) == syscall.S_ISGID|syscall.S_IXGRP {
				n.Mode &^= syscall.S_ISGID
			}
		}
	}
	if v&SetSize != 0 {
		if err := a.resize(c.Ino, n, c.Size, c.ChunkSize); err != nil {
			return 0, err
		}
		n.Mtime = a.now
	}
	if v&SetAtime != 0 {
		n.Atime = c.Atime
	}
	if v&SetMtime != 0 {
		n.Mtime = c.Mtime
	}
	n.Ctime = a.now
	if v&SetCtime != 0 {
		n.Ctime = c.Ctime
	}
	a.touch(c.Ino)
	a.setResult(c.Ino, n)
	return 0, nil
}

// resize sets regular file n's size: an inline file's bytes are trimmed
// or padded; a chunked file that shrinks loses the slots past the new end
// and the slot holding the end is trimmed to it.
func (a *applier) resize(ino Ino, n *inode, size, chunkSize uint64) error {
	old := n.Size
	if n.Inline {
		n.Data = resizeInline(n.Data, size)
	} else if size < old {
		if err := a.truncateSlots(ino, size, chunkSize); err != nil {
			return err
		}
	}
	n.Size = size
	a.st.DataBytes += size - old // modular: works for shrinking too
	return nil
}

// resizeInline trims data to size, or pads it with zeros up to size (at
// most MaxInlineLen; past that the bytes read as zeros anyway).
func resizeInline(data []byte, size uint64) []byte {
	if size <= uint64(len(data)) {
		return slices.Clone(data[:size])
	}
	target := min(size, MaxInlineLen)
	if uint64(len(data)) >= target {
		return data
	}
	out := make([]byte, target)
	copy(out, data)
	return out
}

// truncateSlots drops the slots wholly past size and trims the slot
// holding the end of file.
func (a *applier) truncateSlots(ino Ino, size, chunkSize uint64) error {
	if size == 0 {
		_, err := a.dropSlots(ino, 0, 0)
		return err
	}
	if _, err := a.dropSlots(ino, firstSlotPast(size, chunkSize), 0); err != nil {
		return err
	}
	return a.trimEnd(ino, size, chunkSize)
}

// firstSlotPast is the first slot index starting at or past size.
func firstSlotPast(size, chunkSize uint64) uint64 {
	if size == 0 {
		return 0
	}
	return (size-1)/chunkSize + 1
}

// trimEnd cuts the Len of the slot holding byte size-1 to end at size.
func (a *applier) trimEnd(ino Ino, size, chunkSize uint64) error {
	if size == 0 {
		return nil
	}
	idx := (size - 1) / chunkSize
	end := size - idx*chunkSize
	key := slotKey(ino, idx)
	v, found, err := a.get(key)
	if err != nil || !found {
		return err
	}
	id, n, err := decodeSlot(v)
	if err != nil {
		return fmt.Errorf("slot %d of %d: %w", idx, ino, err)
	}
	if uint64(n) <= end {
		return nil
	}
	if err := a.count(1); err != nil {
		return err
	}
	return a.txn.Set(key, encodeSlot(id, uint32(end)))
}

// checkCommit validates a Commit to inode n (nil: missing).
func (a *applier) checkCommit(n *inode) syscall.Errno {
	c := a.cmd
	switch {
	case n == nil:
		return syscall.ENOENT
	case n.isDir():
		return syscall.EISDIR
	case !n.isReg():
		return syscall.EINVAL
	case c.Size > math.MaxInt64:
		return syscall.EFBIG
	}
	if c.SetInline {
		switch {
		case len(c.Inline) > MaxInlineLen:
			return syscall.EFBIG
		case uint64(len(c.Inline)) > c.Size:
			return syscall.EINVAL
		}
		return 0
	}
	if n.Inline && len(c.Chunks) == 0 {
		return 0 // stays inline
	}
	if !validChunkSize(c.ChunkSize) {
		return syscall.EINVAL
	}
	maxIndex := uint64(math.MaxInt64) / c.ChunkSize
	for _, r := range c.Chunks {
		if uint64(r.Len) > c.ChunkSize || r.Index > maxIndex {
			return syscall.EINVAL
		}
	}
	return 0
}

// commitChunks returns the slots a Commit sets, one per index (the last
// given wins), sorted by index.
func commitChunks(in []ChunkRef) []ChunkRef {
	if len(in) <= 1 {
		return in
	}
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(x, y ChunkRef) int { return cmp.Compare(x.Index, y.Index) })
	w := 0
	for i := range out {
		if i+1 < len(out) && out[i+1].Index == out[i].Index {
			continue
		}
		out[w] = out[i]
		w++
	}
	return out[:w]
}

func (a *applier) commit() (syscall.Errno, error) {
	c := a.cmd
	n, err := a.inode(c.Ino)
	if err != nil {
		return 0, err
	}
	if e := a.checkCommit(n); e != 0 {
		return e, nil
	}
	if e, err := a.checkTombstones(); e != 0 || err != nil {
		return e, err
	}
	switch {
	case c.SetInline:
		if !a.skipSlots {
			if _, err := a.dropSlots(c.Ino, 0, 0); err != nil {
				return 0, err
			}
		}
		n.Inline = true
		n.Data = resizeInline(c.Inline, c.Size)
	case n.Inline && len(c.Chunks) == 0:
		n.Data = resizeInline(n.Data, c.Size)
	default:
		n.Inline, n.Data = false, nil
		if !a.skipSlots {
			if c.HasDropFrom {
				if _, err := a.dropSlots(c.Ino, c.DropFrom, 0); err != nil {
					return 0, err
				}
			}
			for _, r := range commitChunks(c.Chunks) {
				if err := a.setSlot(c.Ino, r); err != nil {
					return 0, err
				}
			}
			if _, err := a.dropSlots(c.Ino, firstSlotPast(c.Size, c.ChunkSize), 0); err != nil {
				return 0, err
			}
		}
		if err := a.trimEnd(c.Ino, c.Size, c.ChunkSize); err != nil {
			return 0, err
		}
	}
	a.st.DataBytes += c.Size - n.Size
	n.Size = c.Size
	n.Mtime = c.Mtime
	if n.Mtime == 0 {
		n.Mtime = a.now
	}
	n.Ctime = a.now
	a.touch(c.Ino)
	a.setResult(c.Ino, n)
	return 0, nil
}

// checkXattrName validates an xattr name as setxattr(2) does.
func checkXattrName(name string) syscall.Errno {
	switch {
	case name == "" || len(name) > MaxXattrName:
		return syscall.ERANGE
	case strings.IndexByte(name, 0) >= 0:
		return syscall.EINVAL
	}
	return 0
}

func (a *applier) setxattr() (syscall.Errno, error) {
	c := a.cmd
	n, err := a.inode(c.Ino)
	if err != nil || n == nil {
		return syscall.ENOENT, err
	}
	if e := checkXattrName(c.Name); e != 0 {
		return e, nil
	}
	if c.Flags&^(XattrCreate|XattrReplace) != 0 || c.Flags == XattrCreate|XattrReplace {
		return syscall.EINVAL, nil
	}
	if len(c.Value) > MaxXattrValue {
		return syscall.E2BIG, nil
	}
	key := xattrKey(c.Ino, c.Name)
	exists, err := a.has(key)
	switch {
	case err != nil:
		return 0, err
	case exists && c.Flags&XattrCreate != 0:
		return syscall.EEXIST, nil
	case !exists && c.Flags&XattrReplace != 0:
		return syscall.ENODATA, nil
	}
	if err := a.txn.Set(key, slices.Clone(c.Value)); err != nil {
		return 0, fmt.Errorf("write xattr of %d: %w", c.Ino, err)
	}
	n.Ctime = a.now
	a.touch(c.Ino)
	return 0, nil
}

func (a *applier) removexattr() (syscall.Errno, error) {
	c := a.cmd
	n, err := a.inode(c.Ino)
	if err != nil || n == nil {
		return syscall.ENOENT, err
	}
	if e := checkXattrName(c.Name); e != 0 {
		return e, nil
	}
	key := xattrKey(c.Ino, c.Name)
	if exists, err := a.has(key); err != nil || !exists {
		return syscall.ENODATA, err
	}
	if err := a.txn.Delete(key); err != nil {
		return 0, fmt.Errorf("delete xattr of %d: %w", c.Ino, err)
	}
	n.Ctime = a.now
	a.touch(c.Ino)
	return 0, nil
}

// checkReclaim validates a Reclaim; ok is false when there is nothing to
// do (the inode still has links).
func (a *applier) checkReclaim(n *inode) (ok bool, e syscall.Errno) {
	switch {
	case n == nil:
		return false, syscall.ENOENT
	case n.Nlink > 0:
		return false, 0
	}
	return true, 0
}

func (a *applier) reclaim() (syscall.Errno, error) {
	ino := a.cmd.Ino
	n, err := a.inode(ino)
	if err != nil {
		return 0, err
	}
	if ok, e := a.checkReclaim(n); !ok {
		return e, nil
	}
	if _, err := a.dropSlots(ino, 0, 0); err != nil {
		return 0, err
	}
	if _, err := a.dropXattrs(ino, 0); err != nil {
		return 0, err
	}
	if err := a.txn.Delete(orphanKey(ino)); err != nil {
		return 0, fmt.Errorf("delete orphan %d: %w", ino, err)
	}
	if n.isReg() {
		a.st.DataBytes -= n.Size
	}
	a.st.Inodes--
	a.inodes[ino] = nil
	a.touch(ino)
	return 0, nil
}

func (a *applier) forget() (syscall.Errno, error) {
	if a.skipSlots {
		return 0, nil
	}
	return 0, a.forgetChunks(a.cmd.ChunkIDs)
}

// forgetChunks removes the zero-reference records of ids that still have
// no reference.
func (a *applier) forgetChunks(ids []store.ChunkID) error {
	for _, id := range ids {
		if err := a.count(1); err != nil {
			return err
		}
		count, since, found, err := a.getRef(id)
		if err != nil {
			return err
		}
		if !found || count != 0 {
			continue
		}
		if err := a.txn.Delete(refKey(id)); err != nil {
			return fmt.Errorf("delete reference of %s: %w", id, err)
		}
		if err := a.txn.Delete(zeroKey(since, id)); err != nil {
			return fmt.Errorf("delete zero-reference record of %s: %w", id, err)
		}
	}
	return nil
}
