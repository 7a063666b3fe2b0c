package meta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/dfsproject/dfs/store"
)

// cmdVersion is the first byte of an encoded Cmd. Version 2 appended
// ReqID, version 3 an UploadIndex to each of Chunks (and brought
// OpCondemn and OpAbsolve); older commands (without them) still decode.
const cmdVersion = 3

// maxFutureVersion bounds the version bytes taken for commands of a newer
// dfs (ErrNewerCommand); anything above is garbage (ErrBadCommand).
const maxFutureVersion = 15

// Flag bits of the encoded Cmd's booleans.
const (
	cmdExcl = 1 << iota
	cmdHasDropFrom
	cmdSetInline
)

// ErrBadCommand is returned (wrapped) by Decode for bytes that are not an
// encoded Cmd. Apply answers such bytes with EINVAL.
var ErrBadCommand = errors.New("meta: malformed command")

// ErrNewerCommand is returned (wrapped) by Decode for a command encoded by
// a newer version of dfs. Apply does not answer it with EINVAL (that would
// let this replica's state drift from the others'): it fails, and applies
// nothing more until the node runs a version that knows the command.
var ErrNewerCommand = errors.New("meta: command from a newer version of dfs")

// Encode serializes cmd for the log. The format is binary: a version byte,
// the op, then every field in a fixed order (integers as varints, strings
// and byte slices length-prefixed, chunk IDs as 32 raw bytes), so a Commit
// of thousands of slots stays compact and fast to decode.
func Encode(cmd *Cmd) ([]byte, error) {
	return encodeVersion(cmd, cmdVersion)
}

// encodeVersion encodes cmd in format version v (tests make older ones;
// the fields a version lacks are left out).
func encodeVersion(cmd *Cmd, v byte) ([]byte, error) {
	if cmd == nil {
		return nil, fmt.Errorf("%w: nil", ErrBadCommand)
	}
	n := 64 + len(cmd.Name) + len(cmd.NewName) + len(cmd.Target) + len(cmd.Value) +
		len(cmd.Inline) + len(cmd.Chunks)*(32+3*binary.MaxVarintLen64) + len(cmd.ChunkIDs)*32
	b := make([]byte, 0, n)
	b = append(b, v, byte(cmd.Op))
	var flags uint64
	if cmd.Excl {
		flags |= cmdExcl
	}
	if cmd.HasDropFrom {
		flags |= cmdHasDropFrom
	}
	if cmd.SetInline {
		flags |= cmdSetInline
	}
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendVarint(b, cmd.Now)
	b = binary.AppendUvarint(b, uint64(cmd.Ino))
	b = binary.AppendUvarint(b, uint64(cmd.Parent))
	b = appendBytes(b, []byte(cmd.Name))
	b = binary.AppendUvarint(b, uint64(cmd.NewParent))
	b = appendBytes(b, []byte(cmd.NewName))
	b = binary.AppendUvarint(b, uint64(cmd.Mode))
	b = binary.AppendUvarint(b, uint64(cmd.Uid))
	b = binary.AppendUvarint(b, uint64(cmd.Gid))
	b = binary.AppendUvarint(b, uint64(cmd.Rdev))
	b = appendBytes(b, []byte(cmd.Target))
	b = binary.AppendUvarint(b, uint64(cmd.Flags))
	b = binary.AppendUvarint(b, uint64(cmd.Valid))
	b = binary.AppendUvarint(b, cmd.Size)
	b = binary.AppendVarint(b, cmd.Atime)
	b = binary.AppendVarint(b, cmd.Mtime)
	b = binary.AppendVarint(b, cmd.Ctime)
	b = appendBytes(b, cmd.Value)
	b = binary.AppendUvarint(b, cmd.ChunkSize)
	b = binary.AppendUvarint(b, uint64(len(cmd.Chunks)))
	for _, c := range cmd.Chunks {
		b = binary.AppendUvarint(b, c.Index)
		b = append(b, c.ID[:]...)
		b = binary.AppendUvarint(b, uint64(c.Len))
		if v >= 3 {
			b = binary.AppendUvarint(b, c.UploadIndex)
		}
	}
	b = binary.AppendUvarint(b, cmd.DropFrom)
	b = appendBytes(b, cmd.Inline)
	b = binary.AppendUvarint(b, uint64(len(cmd.ChunkIDs)))
	for _, id := range cmd.ChunkIDs {
		b = append(b, id[:]...)
	}
	if v >= 2 {
		b = append(b, cmd.ReqID[:]...)
	}
	return b, nil
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Decode parses bytes made by Encode. Any malformation (short input,
// trailing bytes, an unknown version, a value out of range) is an error
// wrapping ErrBadCommand; it never panics.
func Decode(data []byte) (*Cmd, error) {
	d := decoder{b: data}
	v := d.byte()
	if v < 1 || v > cmdVersion {
		if d.err != nil {
			return nil, d.err
		}
		if v > cmdVersion && v <= maxFutureVersion {
			return nil, fmt.Errorf("%w: version %d, this one knows up to %d: upgrade this node", ErrNewerCommand, v, cmdVersion)
		}
		return nil, fmt.Errorf("%w: version %d", ErrBadCommand, v)
	}
	cmd := &Cmd{Op: Op(d.byte())}
	flags := d.uvarint()
	if flags&^(cmdExcl|cmdHasDropFrom|cmdSetInline) != 0 {
		d.fail("unknown flags")
	}
	cmd.Excl = flags&cmdExcl != 0
	cmd.HasDropFrom = flags&cmdHasDropFrom != 0
	cmd.SetInline = flags&cmdSetInline != 0
	cmd.Now = d.varint()
	cmd.Ino = Ino(d.uvarint())
	cmd.Parent = Ino(d.uvarint())
	cmd.Name = string(d.bytes())
	cmd.NewParent = Ino(d.uvarint())
	cmd.NewName = string(d.bytes())
	cmd.Mode = d.u32()
	cmd.Uid = d.u32()
	cmd.Gid = d.u32()
	cmd.Rdev = d.u32()
	cmd.Target = string(d.bytes())
	cmd.Flags = d.u32()
	cmd.Valid = d.u32()
	cmd.Size = d.uvarint()
	cmd.Atime = d.varint()
	cmd.Mtime = d.varint()
	cmd.Ctime = d.varint()
	cmd.Value = d.bytes()
	cmd.ChunkSize = d.uvarint()
	// Each slot takes at least 34 bytes, which bounds the allocation by
	// the input size.
	if n := d.count(34); n > 0 {
		cmd.Chunks = make([]ChunkRef, n)
		for i := range cmd.Chunks {
			c := &cmd.Chunks[i]
			c.Index = d.uvarint()
			copy(c.ID[:], d.take(32))
			c.Len = d.u32()
			if v >= 3 {
				c.UploadIndex = d.uvarint()
			}
		}
	}
	cmd.DropFrom = d.uvarint()
	cmd.Inline = d.bytes()
	if n := d.count(32); n > 0 {
		cmd.ChunkIDs = make([]store.ChunkID, n)
		for i := range cmd.ChunkIDs {
			copy(cmd.ChunkIDs[i][:], d.take(32))
		}
	}
	if v >= 2 {
		copy(cmd.ReqID[:], d.take(len(cmd.ReqID)))
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	if d.err != nil {
		return nil, d.err
	}
	return cmd, nil
}

// decoder reads from b; the first error sticks and later reads return
// zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrBadCommand, what)
	}
	d.b = nil
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("truncated")
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) byte() byte {
	s := d.take(1)
	if s == nil {
		return 0
	}
	return s[0]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	v := d.uvarint()
	if v > math.MaxUint32 {
		d.fail("value out of range")
		return 0
	}
	return uint32(v)
}

// count reads an element count and checks that the rest of the input can
// hold that many elements of at least min bytes each.
func (d *decoder) count(min int) int {
	v := d.uvarint()
	if v > uint64(len(d.b)/min) {
		d.fail("count exceeds input")
		return 0
	}
	return int(v)
}

// bytes reads a length-prefixed byte string (a copy, nil when empty).
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("truncated")
		return nil
	}
	if n == 0 {
		return nil
	}
	return append([]byte(nil), d.take(int(n))...)
}

var opNames = [...]string{
	OpInvalid: "invalid", OpCreate: "create", OpMkdir: "mkdir", OpSymlink: "symlink",
	OpLink: "link", OpUnlink: "unlink", OpRmdir: "rmdir", OpRename: "rename",
	OpSetAttr: "setattr", OpCommit: "commit", OpSetXattr: "setxattr",
	OpRemoveXattr: "removexattr", OpReclaim: "reclaim", OpForgetChunks: "forgetchunks",
	OpTmpfile: "tmpfile", OpSetLayout: "setlayout", OpCondemn: "condemn", OpAbsolve: "absolve",
}

// String names the op, for logs.
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}
