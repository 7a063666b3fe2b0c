package vfs

import (
	"context"
)

const (
	statBlockSize = 4096
	// unknownCapacity is reported as the size of a backend that has none
	// (S3): 1 PiB.
	unknownCapacity = 1 << 50
	// filesFree is reported as the free inode count: inodes are unbounded.
	filesFree = 1 << 40
)

// StatFS implements FileSystem: capacity from the chunk store's backend
// (1 PiB minus the bytes of all files when it has no fixed size) and
// inode counts from the metadata.
func (v *VFS) StatFS(ctx context.Context) (StatFS, error) {
	if err := ctxErr(ctx); err != nil {
		return StatFS{}, err
	}
	sp, err := v.cs.Space(ctx)
	if err != nil {
		return StatFS{}, v.errno("statfs", err)
	}
	st, err := v.r.Stats(ctx)
	if err != nil {
		return StatFS{}, v.errno("statfs", err)
	}
	total, free := sp.Total, sp.Free
	if total == 0 {
		total = unknownCapacity
		free = total - min(st.DataBytes, total)
	}
	free = min(free, total)
	return StatFS{
		BlockSize:   statBlockSize,
		Blocks:      total / statBlockSize,
		BlocksFree:  free / statBlockSize,
		BlocksAvail: free / statBlockSize,
		Files:       st.Inodes + filesFree,
		FilesFree:   filesFree,
		NameMax:     255,
	}, nil
}
