package meta

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"syscall"
	"testing"
)

// TestInodeRecord: the inode record round-trips with each flag, and a
// record written before the tmpfile flag existed (version 1, the inline
// flag or none) decodes as it did.
func TestInodeRecord(t *testing.T) {
	for _, n := range []*inode{
		{Mode: syscall.S_IFDIR | 0o755, Nlink: 2, Parent: RootIno},
		{Mode: syscall.S_IFREG | 0o644, Nlink: 1, Size: 3, Inline: true, Data: []byte("abc"), Atime: -1, Mtime: 2, Ctime: 3},
		{Mode: syscall.S_IFREG | 0o600, Uid: 7, Gid: 8, Tmpfile: true},
		{Mode: syscall.S_IFREG | 0o600, Size: 2, Inline: true, Tmpfile: true, Data: []byte("xy")},
		{Mode: syscall.S_IFLNK | 0o777, Nlink: 1, Size: 1, Data: []byte("t")},
	} {
		got, err := decodeInode(encodeInode(n))
		if err != nil || !reflect.DeepEqual(got, n) {
			t.Errorf("round trip of %+v: %+v, %v", n, got, err)
		}
	}

	// A regular inline file, 0644, uid 1, gid 2, nlink 1, size 2, times
	// 10, 20, 30, "hi": as the first version of the format wrote it.
	old, _ := hex.DecodeString("0101" + "a4810000" + "01000000" + "02000000" + "00000000" + "01000000" +
		"0200000000000000" + "0a00000000000000" + "1400000000000000" + "1e00000000000000" + "0000000000000000" + "6869")
	want := &inode{Mode: syscall.S_IFREG | 0o644, Uid: 1, Gid: 2, Nlink: 1, Size: 2, Atime: 10, Mtime: 20, Ctime: 30,
		Inline: true, Data: []byte("hi")}
	got, err := decodeInode(old)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("old record: %+v, %v", got, err)
	}
	if !bytes.Equal(encodeInode(want), old) {
		t.Errorf("a record without the tmpfile flag is not encoded as before")
	}
	for _, flags := range []byte{1 << 2, 1 << 7} {
		bad := bytes.Clone(old)
		bad[1] |= flags
		if _, err := decodeInode(bad); !errors.Is(err, errCorrupt) {
			t.Errorf("unknown flag %#x: %v", flags, err)
		}
	}
}
