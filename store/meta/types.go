package meta

import (
	"syscall"

	"github.com/dfsproject/dfs/store"
)

// Ino is an inode number. Inode numbers are allocated by Apply from a
// counter kept in the state, so every replica allocates the same ones, and
// they are never reused.
type Ino uint64

// RootIno is the root directory, created by the first Apply (or by
// Bootstrap) with mode 0755|S_IFDIR, uid 0, gid 0.
const RootIno Ino = 1

// Attr is an inode's attributes. Mode holds the type bits (syscall.S_IFREG,
// S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK) and permission bits
// (including setuid, setgid, sticky). Times are Unix nanoseconds.
type Attr struct {
	Ino   Ino    `json:"ino"`
	Mode  uint32 `json:"mode"`
	Uid   uint32 `json:"uid"`
	Gid   uint32 `json:"gid"`
	Size  uint64 `json:"size"`
	Nlink uint32 `json:"nlink"`
	Rdev  uint32 `json:"rdev,omitempty"`
	Atime int64  `json:"atime"`
	Mtime int64  `json:"mtime"`
	Ctime int64  `json:"ctime"`
	// Inline reports that the file's bytes live in the inode record
	// (read them with FSM.Inline) rather than in chunks.
	Inline bool `json:"inline,omitempty"`
}

// IsDir, IsReg and IsSymlink test the type bits.
func (a *Attr) IsDir() bool     { return a.Mode&syscall.S_IFMT == syscall.S_IFDIR }
func (a *Attr) IsReg() bool     { return a.Mode&syscall.S_IFMT == syscall.S_IFREG }
func (a *Attr) IsSymlink() bool { return a.Mode&syscall.S_IFMT == syscall.S_IFLNK }

// ChunkRef is one slot of a regular file's chunk list: slot Index covers
// bytes [Index*ChunkSize, (Index+1)*ChunkSize) of the file. The slot's
// first Len bytes come from chunk ID (whose object may be longer); the rest
// of the slot, up to the file size, reads as zeros. A slot with no ChunkRef
// is a hole. Each ChunkRef holds one reference on ID.
//
// UploadIndex is set by writers in an OpCommit only (it is not stored):
// the writer's applied index read before it uploaded the chunk, or looked
// for it in the store. A chunk whose tombstone was closed at a later index
// may have been deleted after the upload, so the commit is refused with
// ErrnoStaleUpload (see tombstone.go). 0 means unknown (a writer of an
// older dfs): only pending deletions refuse the commit then.
type ChunkRef struct {
	Index       uint64        `json:"i"`
	ID          store.ChunkID `json:"id"`
	Len         uint32        `json:"n"`
	UploadIndex uint64        `json:"u,omitempty"`
}

// DirEntry is one name in a directory.
type DirEntry struct {
	Name string `json:"name"`
	Ino  Ino    `json:"ino"`
	Mode uint32 `json:"mode"` // type bits only are guaranteed
}

// Op names a command.
type Op uint8

const (
	OpInvalid      Op = iota
	OpCreate          // Parent, Name, Mode (S_IFREG/S_IFIFO/S_IFSOCK/S_IFCHR/S_IFBLK|perm), Uid, Gid, Rdev, Excl
	OpMkdir           // Parent, Name, Mode (perm), Uid, Gid
	OpSymlink         // Parent, Name, Target, Uid, Gid
	OpLink            // Ino, Parent, Name (of an nlink-0 inode only if OpTmpfile made it and it was never linked)
	OpUnlink          // Parent, Name
	OpRmdir           // Parent, Name: the empty directory becomes an orphan (nlink 0)
	OpRename          // Parent, Name, NewParent, NewName, Flags (RENAME_NOREPLACE=1, RENAME_EXCHANGE=2)
	OpSetAttr         // Ino, Valid (SetMode|SetUid|...), Mode, Uid, Gid, Size, Atime, Mtime
	OpCommit          // Ino, Size, Mtime, Chunks, DropFrom, Inline/SetInline: a write's new data
	OpSetXattr        // Ino, Name, Value, Flags (XATTR_CREATE=1, XATTR_REPLACE=2)
	OpRemoveXattr     // Ino, Name
	OpReclaim         // Ino: delete an orphan (nlink 0) inode and drop its chunk references
	OpForgetChunks    // ChunkIDs: forget zero-reference records of chunks whose objects were deleted
	OpTmpfile         // Parent, Mode (S_IFREG|perm), Uid, Gid: an anonymous regular file (O_TMPFILE), born an orphan
	OpSetLayout       // Size (the new layout version: exactly the current one + 1), Value (the encoded layout): see Reader.Layout
	OpCondemn         // ChunkIDs: tombstone the unreferenced ones before deleting their objects (Result.Condemned); see tombstone.go
	OpAbsolve         // ChunkIDs, Flags (AbsolveExpired): the deletions that OpCondemn allowed are over
)

// AbsolveExpired (Cmd.Flags with OpAbsolve) closes only the tombstones
// whose every lease is over, and leaves the others alone: a writer
// refused because of a dead collector's tombstone proposes it.
const AbsolveExpired = 1

// SetAttr valid bits (Cmd.Valid), mirroring FATTR_* of FUSE.
const (
	SetMode  = 1 << 0
	SetUid   = 1 << 1
	SetGid   = 1 << 2
	SetSize  = 1 << 3
	SetAtime = 1 << 4
	SetMtime = 1 << 5
	SetCtime = 1 << 6 // set ctime to Cmd.Ctime explicitly (rare)
)

// Rename flags (Cmd.Flags with OpRename), as renameat2.
const (
	RenameNoReplace = 1
	RenameExchange  = 2
)

// Xattr flags (Cmd.Flags with OpSetXattr), as setxattr(2).
const (
	XattrCreate  = 1
	XattrReplace = 2
)

// Cmd is one mutation of the namespace. It is serialized (Encode) and
// applied by FSM.Apply on every replica, so it carries everything Apply
// needs: Now is the proposer's clock (Unix ns), used for the times Apply
// sets, so replicas agree.
type Cmd struct {
	Op        Op     `json:"op"`
	Now       int64  `json:"now"`
	Ino       Ino    `json:"ino,omitempty"`
	Parent    Ino    `json:"parent,omitempty"`
	Name      string `json:"name,omitempty"`
	NewParent Ino    `json:"newparent,omitempty"`
	NewName   string `json:"newname,omitempty"`
	Mode      uint32 `json:"mode,omitempty"`
	Uid       uint32 `json:"uid,omitempty"`
	Gid       uint32 `json:"gid,omitempty"`
	Rdev      uint32 `json:"rdev,omitempty"`
	Target    string `json:"target,omitempty"`
	Excl      bool   `json:"excl,omitempty"`
	Flags     uint32 `json:"flags,omitempty"`
	Valid     uint32 `json:"valid,omitempty"`
	Size      uint64 `json:"size,omitempty"`
	Atime     int64  `json:"atime,omitempty"`
	Mtime     int64  `json:"mtime,omitempty"`
	Ctime     int64  `json:"ctime,omitempty"`
	Value     []byte `json:"value,omitempty"`
	// ChunkSize is the file's chunk size, needed by SetAttr with SetSize
	// and by Commit to map sizes to slots (Apply trims the slot holding the
	// new end of file to it, and drops slots past it).
	ChunkSize uint64 `json:"chunksize,omitempty"`

	// OpCommit: Chunks are slots to set (a zero ID clears the slot to a
	// hole); DropFrom, when HasDropFrom, removes every slot >= DropFrom
	// first. SetInline makes the file inline with content Inline (all
	// chunk slots are dropped); otherwise an inline file given Chunks
	// stops being inline. Size and Mtime become the file's (Mtime 0
	// means Now); ctime = Now. Apply then drops the slots past Size and
	// trims the last one, so Commit needs ChunkSize unless the file is
	// (or stays) inline.
	Chunks      []ChunkRef `json:"chunks,omitempty"`
	DropFrom    uint64     `json:"dropfrom,omitempty"`
	HasDropFrom bool       `json:"hasdropfrom,omitempty"`
	SetInline   bool       `json:"setinline,omitempty"`
	Inline      []byte     `json:"inline,omitempty"`

	// OpForgetChunks: chunks whose zero-reference records are removed
	// (those whose reference count is still 0; others are left alone).
	// OpCondemn, OpAbsolve: the chunks to tombstone, or whose deletion is
	// over (at most MaxTombstoneBatch).
	ChunkIDs []store.ChunkID `json:"chunkids,omitempty"`

	// ReqID, when not zero, names the request this command carries, so
	// that a proposer may retry it (after a leader change or a lost
	// answer) without applying it twice: Apply remembers the Result of
	// each ReqID for the last RequestWindow entries and answers a command
	// whose ReqID it has seen with that Result, changing nothing. A
	// retried create thus never fails with EEXIST because its first try
	// succeeded.
	ReqID ReqID `json:"reqid,omitzero"`
}

// ReqID is a request's random identity (see Cmd.ReqID).
type ReqID [16]byte

// RequestWindow is how many log entries a ReqID is remembered for.
const RequestWindow = 1 << 17

// Result is what Apply returns for a command. Errno is 0 on success, else
// the POSIX error (EEXIST, ENOENT, ENOTEMPTY, ENOTDIR, EISDIR, EINVAL,
// ENAMETOOLONG, EMLINK, ENODATA, ERANGE, E2BIG ...). Attr is the created or
// changed inode where there is one (Create, Mkdir, Symlink, Link, SetAttr,
// Commit, Tmpfile, Unlink, Rmdir, Create of an existing file without Excl).
// Orphans are inodes whose nlink fell to 0 in this command (Unlink, Rmdir,
// Rename over a file or an empty directory) or that it created with none
// (Tmpfile): the caller reclaims them (OpReclaim) once nothing on its host
// references them (an open handle, the kernel's inode).
// Freed are chunks whose reference count fell to 0 in this command; Apply
// also records each with the command's Now (see Reader.ZeroRefChunks) and
// drops that record when the chunk is referenced again.
// Condemned are the chunks an OpCondemn tombstoned, sorted: the ones the
// caller may delete now.
type Result struct {
	Errno     syscall.Errno   `json:"errno,omitempty"`
	Attr      *Attr           `json:"attr,omitempty"`
	Orphans   []Ino           `json:"orphans,omitempty"`
	Freed     []store.ChunkID `json:"freed,omitempty"`
	Condemned []store.ChunkID `json:"condemned,omitempty"`
}

// Limits enforced by Apply.
const (
	MaxNameLen    = 255
	MaxSymlinkLen = 4095
	MaxXattrName  = 255
	MaxXattrValue = 64 << 10
	MaxLinks      = 65000
	// MaxInlineLen bounds the bytes kept in an inode record (Commit with
	// SetInline; a longer Inline gets EFBIG). SetAttr extending an inline
	// file pads its bytes with zeros up to this length; past it the bytes
	// between len(Inline) and Size read as zeros.
	MaxInlineLen = 64 << 10
)
