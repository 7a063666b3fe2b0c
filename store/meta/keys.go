package meta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"github.com/dfsproject/dfs/store"
)

// Key layout. Every key starts with a one-byte prefix naming its table;
// integers in keys are big-endian so badger's byte order is numeric order.
//
//	"S"                          stats: applied index, next ino, inode count, data bytes
//	'i' ino                      inode record (encodeInode)
//	'd' parent name              directory entry: ino, type bits
//	'c' ino index                chunk slot: chunk ID, Len
//	'x' ino name                 extended attribute value
//	'r' id                       chunk reference count and zero-since time
//	'z' since id                 zero-reference index (since is sign-flipped)
//	'o' ino                      orphan marker (nlink 0, awaiting OpReclaim)
//	"L"                          the placement layout: version (8 bytes, big-endian), then its encoding
//	'q' reqid                    a request's applied index and Result (dedupe.go)
//	'Q' index reqid              the same requests by index, for pruning
//	'T' id                       chunk tombstone (tombstone.go)
//	't' when id                  tombstones by when they may be purged (when is sign-flipped)
const (
	pfxStats  = 'S'
	pfxInode  = 'i'
	pfxDirent = 'd'
	pfxSlot   = 'c'
	pfxXattr  = 'x'
	pfxRef    = 'r'
	pfxZero   = 'z'
	pfxOrphan = 'o'
	pfxReq    = 'q'
	pfxLayout = 'L'
	pfxReqAge = 'Q'
	pfxTomb   = 'T'
	pfxTombAt = 't'
)

var keyStats = []byte{pfxStats}

// errCorrupt marks a stored record that does not decode. Apply turns it
// into EIO; it means a bug or a damaged store.
var errCorrupt = errors.New("meta: corrupt record")

func inoKey(pfx byte, ino Ino) []byte {
	k := make([]byte, 9)
	k[0] = pfx
	binary.BigEndian.PutUint64(k[1:], uint64(ino))
	return k
}

func inodeKey(ino Ino) []byte  { return inoKey(pfxInode, ino) }
func orphanKey(ino Ino) []byte { return inoKey(pfxOrphan, ino) }

// direntPrefix is the prefix of every entry of directory dir.
func direntPrefix(dir Ino) []byte { return inoKey(pfxDirent, dir) }

func direntKey(dir Ino, name string) []byte {
	k := make([]byte, 9, 9+len(name))
	k[0] = pfxDirent
	binary.BigEndian.PutUint64(k[1:], uint64(dir))
	return append(k, name...)
}

func xattrPrefix(ino Ino) []byte { return inoKey(pfxXattr, ino) }

func xattrKey(ino Ino, name string) []byte {
	k := make([]byte, 9, 9+len(name))
	k[0] = pfxXattr
	binary.BigEndian.PutUint64(k[1:], uint64(ino))
	return append(k, name...)
}

func slotPrefix(ino Ino) []byte { return inoKey(pfxSlot, ino) }

func slotKey(ino Ino, index uint64) []byte {
	k := make([]byte, 17)
	k[0] = pfxSlot
	binary.BigEndian.PutUint64(k[1:], uint64(ino))
	binary.BigEndian.PutUint64(k[9:], index)
	return k
}

func refKey(id store.ChunkID) []byte { return chunkKey(pfxRef, id) }

// chunkKey is prefix, then a chunk ID.
func chunkKey(prefix byte, id store.ChunkID) []byte {
	k := make([]byte, 33)
	k[0] = prefix
	copy(k[1:], id[:])
	return k
}

// sortableTime maps int64 to uint64 so that byte order is time order.
func sortableTime(t int64) uint64 { return uint64(t) ^ (1 << 63) }

func zeroKey(since int64, id store.ChunkID) []byte { return timedChunkKey(pfxZero, since, id) }

// timedChunkKey is prefix, a time in byte order, then a chunk ID.
func timedChunkKey(prefix byte, at int64, id store.ChunkID) []byte {
	k := make([]byte, 41)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], sortableTime(at))
	copy(k[9:], id[:])
	return k
}

// keyIno returns the inode number in a key made by inoKey, direntKey,
// xattrKey or slotKey.
func keyIno(k []byte) Ino { return Ino(binary.BigEndian.Uint64(k[1:9])) }

// validKey reports whether k has a known prefix and a plausible length;
// Restore refuses snapshots with other keys.
func validKey(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	switch k[0] {
	case pfxStats, pfxLayout:
		return len(k) == 1
	case pfxInode, pfxOrphan:
		return len(k) == 9
	case pfxDirent:
		return len(k) > 9 && len(k) <= 9+MaxNameLen
	case pfxXattr:
		return len(k) > 9 && len(k) <= 9+MaxXattrName
	case pfxSlot:
		return len(k) == 17
	case pfxRef, pfxTomb:
		return len(k) == 33
	case pfxZero, pfxTombAt:
		return len(k) == 41
	case pfxReq:
		return len(k) == 17
	case pfxReqAge:
		return len(k) == 25
	}
	return false
}

// inode is the stored form of an inode.
type inode struct {
	Mode   uint32
	Uid    uint32
	Gid    uint32
	Rdev   uint32
	Nlink  uint32
	Size   uint64
	Atime  int64
	Mtime  int64
	Ctime  int64
	Parent Ino  // directories: the parent directory (root: itself)
	Inline bool // regular files: Data holds the file's first bytes
	// Tmpfile: made by OpTmpfile and never linked since, so OpLink may
	// give it a name although its nlink is 0.
	Tmpfile bool
	Data    []byte // inline bytes, or a symlink's target
}

// Inode record format, version 1. The flag byte's bits: inodeFlagInline,
// inodeFlagTmpfile (added later within version 1: records written before
// never have it set, so they decode unchanged).
const (
	inodeVersion     = 1
	inodeHeaderLen   = 2 + 5*4 + 5*8
	inodeFlagInline  = 1 << 0
	inodeFlagTmpfile = 1 << 1
	inodeFlags       = inodeFlagInline | inodeFlagTmpfile
)

func (n *inode) isDir() bool     { return n.Mode&syscall.S_IFMT == syscall.S_IFDIR }
func (n *inode) isReg() bool     { return n.Mode&syscall.S_IFMT == syscall.S_IFREG }
func (n *inode) isSymlink() bool { return n.Mode&syscall.S_IFMT == syscall.S_IFLNK }

func (n *inode) attr(ino Ino) Attr {
	return Attr{
		Ino: ino, Mode: n.Mode, Uid: n.Uid, Gid: n.Gid, Size: n.Size,
		Nlink: n.Nlink, Rdev: n.Rdev, Atime: n.Atime, Mtime: n.Mtime,
		Ctime: n.Ctime, Inline: n.Inline,
	}
}

// encodeInode: version, flags (inline, tmpfile), mode, uid, gid, rdev, nlink (u32 LE),
// size, atime, mtime, ctime, parent (u64 LE), then Data to the end.
func encodeInode(n *inode) []byte {
	b := make([]byte, inodeHeaderLen+len(n.Data))
	b[0] = inodeVersion
	if n.Inline {
		b[1] |= inodeFlagInline
	}
	if n.Tmpfile {
		b[1] |= inodeFlagTmpfile
	}
	le := binary.LittleEndian
	le.PutUint32(b[2:], n.Mode)
	le.PutUint32(b[6:], n.Uid)
	le.PutUint32(b[10:], n.Gid)
	le.PutUint32(b[14:], n.Rdev)
	le.PutUint32(b[18:], n.Nlink)
	le.PutUint64(b[22:], n.Size)
	le.PutUint64(b[30:], uint64(n.Atime))
	le.PutUint64(b[38:], uint64(n.Mtime))
	le.PutUint64(b[46:], uint64(n.Ctime))
	le.PutUint64(b[54:], uint64(n.Parent))
	copy(b[inodeHeaderLen:], n.Data)
	return b
}

// decodeInode decodes b; Data is copied, so b may be reused.
func decodeInode(b []byte) (*inode, error) {
	if len(b) < inodeHeaderLen || b[0] != inodeVersion || b[1]&^inodeFlags != 0 {
		return nil, fmt.Errorf("%w: inode record of %d bytes, version %d", errCorrupt, len(b), firstByte(b))
	}
	le := binary.LittleEndian
	n := &inode{
		Inline:  b[1]&inodeFlagInline != 0,
		Tmpfile: b[1]&inodeFlagTmpfile != 0,
		Mode:    le.Uint32(b[2:]),
		Uid:     le.Uint32(b[6:]),
		Gid:     le.Uint32(b[10:]),
		Rdev:    le.Uint32(b[14:]),
		Nlink:   le.Uint32(b[18:]),
		Size:    le.Uint64(b[22:]),
		Atime:   int64(le.Uint64(b[30:])),
		Mtime:   int64(le.Uint64(b[38:])),
		Ctime:   int64(le.Uint64(b[46:])),
		Parent:  Ino(le.Uint64(b[54:])),
	}
	if len(b) > inodeHeaderLen {
		n.Data = append([]byte(nil), b[inodeHeaderLen:]...)
	}
	return n, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

// dirent value: ino (u64 LE), type bits (u32 LE).
func encodeDirent(ino Ino, mode uint32) []byte {
	b := make([]byte, 12)
	binary.LittleEndian.PutUint64(b, uint64(ino))
	binary.LittleEndian.PutUint32(b[8:], mode&syscall.S_IFMT)
	return b
}

func decodeDirent(b []byte) (Ino, uint32, error) {
	if len(b) != 12 {
		return 0, 0, fmt.Errorf("%w: directory entry of %d bytes", errCorrupt, len(b))
	}
	return Ino(binary.LittleEndian.Uint64(b)), binary.LittleEndian.Uint32(b[8:]), nil
}

// slot value: chunk ID, Len (u32 LE).
func encodeSlot(id store.ChunkID, n uint32) []byte {
	b := make([]byte, 36)
	copy(b, id[:])
	binary.LittleEndian.PutUint32(b[32:], n)
	return b
}

func decodeSlot(b []byte) (store.ChunkID, uint32, error) {
	var id store.ChunkID
	if len(b) != 36 {
		return id, 0, fmt.Errorf("%w: chunk slot of %d bytes", errCorrupt, len(b))
	}
	copy(id[:], b)
	return id, binary.LittleEndian.Uint32(b[32:]), nil
}

// ref value: count (u64 LE), zero-since time (i64 LE, meaningful when
// count is 0).
func encodeRef(count uint64, since int64) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b, count)
	binary.LittleEndian.PutUint64(b[8:], uint64(since))
	return b
}

func decodeRef(b []byte) (uint64, int64, error) {
	if len(b) != 16 {
		return 0, 0, fmt.Errorf("%w: reference count of %d bytes", errCorrupt, len(b))
	}
	return binary.LittleEndian.Uint64(b), int64(binary.LittleEndian.Uint64(b[8:])), nil
}

// state is the stats record.
type state struct {
	Applied   uint64
	NextIno   Ino
	Inodes    uint64
	DataBytes uint64
}

const stateVersion = 1

func encodeState(s *state) []byte {
	b := make([]byte, 33)
	b[0] = stateVersion
	le := binary.LittleEndian
	le.PutUint64(b[1:], s.Applied)
	le.PutUint64(b[9:], uint64(s.NextIno))
	le.PutUint64(b[17:], s.Inodes)
	le.PutUint64(b[25:], s.DataBytes)
	return b
}

func decodeState(b []byte) (state, error) {
	if len(b) != 33 || b[0] != stateVersion {
		return state{}, fmt.Errorf("%w: stats record of %d bytes, version %d", errCorrupt, len(b), firstByte(b))
	}
	le := binary.LittleEndian
	return state{
		Applied:   le.Uint64(b[1:]),
		NextIno:   Ino(le.Uint64(b[9:])),
		Inodes:    le.Uint64(b[17:]),
		DataBytes: le.Uint64(b[25:]),
	}, nil
}
