package vfs

// DirtyBytes returns the bytes the write buffers of open files hold now:
// data written and not yet uploaded, buffers being uploaded, and
// reservations of writers about to fill them (by buffer capacity, as
// Config.MaxDirtyBytes bounds them). Data spilled to disk is not counted.
// It is safe for concurrent use and does not block on I/O.
func (v *VFS) DirtyBytes() int64 {
	used, _ := v.mem.stats()
	return used
}
