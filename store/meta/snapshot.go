package meta

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
)

// Snapshot format: the magic, then every key/value pair of the state in
// key order (uvarint key length, key, uvarint value length, value), a
// zero key length, the record count (u64 LE) and a CRC-32C (u32 LE) of
// everything before it. The stats record carries the applied index. Two
// replicas with the same state write the same bytes.
const snapMagic = "dfsmeta\x01"

// maxSnapValue bounds one value in a snapshot (the largest records are
// inline files and xattrs, under 64 KiB).
const maxSnapValue = 1 << 20

// ErrBadSnapshot is returned (wrapped) by Restore for input that is not a
// complete, intact snapshot; the state is then left as it was.
var ErrBadSnapshot = errors.New("meta: bad snapshot")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Snap is a consistent point-in-time view of the state, to be written
// out while Apply goes on (as raft's FSMSnapshot: take it in the apply
// goroutine, Persist with WriteTo elsewhere, then Release). Close waits
// for open Snaps to be released.
type Snap struct {
	f       *FSM
	txn     *badger.Txn
	applied uint64
	once    sync.Once
}

// OpenSnapshot pins the current state for writing with Snap.WriteTo.
// The caller must call Release.
func (f *FSM) OpenSnapshot() (*Snap, error) {
	if err := f.acquire(); err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	f.snaps.Add(1)
	txn := f.db.NewTransaction(false)
	st, err := loadState(txn)
	if err != nil {
		txn.Discard()
		f.snaps.Done()
		return nil, fmt.Errorf("meta: snapshot: load stats: %w", err)
	}
	return &Snap{f: f, txn: txn, applied: st.Applied}, nil
}

// Applied is the last applied index included in the snapshot.
func (s *Snap) Applied() uint64 { return s.applied }

// Release frees the view. It may be called more than once.
func (s *Snap) Release() {
	s.once.Do(func() {
		s.txn.Discard()
		s.f.snaps.Done()
	})
}

// WriteTo writes the snapshot to w.
func (s *Snap) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	crc := crc32.New(crcTable)
	out := io.MultiWriter(bw, crc)
	var hdr [2 * binary.MaxVarintLen64]byte
	if _, err := io.WriteString(out, snapMagic); err != nil {
		return cw.n, fmt.Errorf("meta: write snapshot: %w", err)
	}
	var count uint64
	it := s.txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()
		err := item.Value(func(v []byte) error {
			n := binary.PutUvarint(hdr[:], uint64(len(k)))
			if _, err := out.Write(hdr[:n]); err != nil {
				return err
			}
			if _, err := out.Write(k); err != nil {
				return err
			}
			n = binary.PutUvarint(hdr[:], uint64(len(v)))
			if _, err := out.Write(hdr[:n]); err != nil {
				return err
			}
			_, err := out.Write(v)
			return err
		})
		if err != nil {
			return cw.n, fmt.Errorf("meta: write snapshot: %w", err)
		}
		count++
	}
	var trailer [13]byte
	trailer[0] = 0 // end of records
	binary.LittleEndian.PutUint64(trailer[1:], count)
	if _, err := out.Write(trailer[:9]); err != nil {
		return cw.n, fmt.Errorf("meta: write snapshot: %w", err)
	}
	binary.LittleEndian.PutUint32(trailer[9:], crc.Sum32())
	if _, err := bw.Write(trailer[9:]); err != nil {
		return cw.n, fmt.Errorf("meta: write snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("meta: write snapshot: %w", err)
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Snapshot writes the whole state, applied index included, as of one
// moment, to w.
func (f *FSM) Snapshot(w io.Writer) error {
	s, err := f.OpenSnapshot()
	if err != nil {
		return err
	}
	defer s.Release()
	_, err = s.WriteTo(w)
	return err
}

// snapReader parses the snapshot format.
type snapReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	buf []byte
}

func (s *snapReader) ReadByte() (byte, error) {
	b, err := s.r.ReadByte()
	if err == nil {
		s.crc.Write([]byte{b})
	}
	return b, err
}

func (s *snapReader) full(n int) ([]byte, error) {
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	b := s.buf[:n]
	if _, err := io.ReadFull(s.r, b); err != nil {
		return nil, err
	}
	s.crc.Write(b)
	return b, nil
}

// next returns the next record, or nil key at the end of the records.
// The slices are valid until the next call.
func (s *snapReader) next() (key, val []byte, err error) {
	kl, err := binary.ReadUvarint(s)
	if err != nil {
		return nil, nil, err
	}
	if kl == 0 {
		return nil, nil, nil
	}
	if kl > 1+8+MaxXattrName {
		return nil, nil, fmt.Errorf("key of %d bytes", kl)
	}
	k, err := s.full(int(kl))
	if err != nil {
		return nil, nil, err
	}
	k = append([]byte(nil), k...)
	if !validKey(k) {
		return nil, nil, fmt.Errorf("unknown key %q", k)
	}
	vl, err := binary.ReadUvarint(s)
	if err != nil {
		return nil, nil, err
	}
	if vl > maxSnapValue {
		return nil, nil, fmt.Errorf("value of %d bytes", vl)
	}
	v, err := s.full(int(vl))
	return k, v, err
}

// Restore replaces the whole state with a snapshot read from r. The input
// is read and verified completely (into a temporary file) before the old
// state is touched: a truncated or corrupt snapshot gives an error
// wrapping ErrBadSnapshot and leaves the state as it was. If loading
// fails after that (a disk error), the state is gone: every later call
// returns that error until a Restore succeeds.
func (f *FSM) Restore(r io.Reader) error {
	dir := f.cfg.Dir
	if f.cfg.InMemory {
		dir = ""
	}
	tmp, err := os.CreateTemp(dir, restorePattern)
	if err != nil {
		return fmt.Errorf("meta: restore: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	records, applied, err := spoolSnapshot(r, tmp)
	if err != nil {
		return err
	}

	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	f.snaps.Wait()
	if err := f.load(tmp); err != nil {
		f.broken = fmt.Errorf("meta: state lost: restore failed after dropping the old state: %w", err)
		f.log.Error("meta: restore failed", "err", err)
		return f.broken
	}
	f.broken = nil
	f.applied.Store(applied)
	f.log.Info("meta: restored snapshot", "records", records, "applied", applied)
	return nil
}

const restorePattern = ".restore-*.tmp"

// removeStaleSpools deletes restore spools left in dir by a crash.
func removeStaleSpools(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, restorePattern))
	for _, m := range matches {
		os.Remove(m)
	}
}

// spoolSnapshot copies a snapshot from r to tmp, verifying its format,
// checksum and stats record.
func spoolSnapshot(r io.Reader, tmp *os.File) (records, applied uint64, err error) {
	bad := func(format string, args ...any) (uint64, uint64, error) {
		return 0, 0, fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, args...))
	}
	sr := &snapReader{r: bufio.NewReaderSize(r, 64<<10), crc: crc32.New(crcTable)}
	magic, err := sr.full(len(snapMagic))
	if err != nil || string(magic) != snapMagic {
		return bad("missing header")
	}
	bw := bufio.NewWriterSize(tmp, 64<<10)
	var hdr [2 * binary.MaxVarintLen64]byte
	var prev []byte
	var sawStats, sawRoot bool
	for {
		k, v, err := sr.next()
		if err != nil {
			return bad("record %d: %v", records, err)
		}
		if k == nil {
			break
		}
		if prev != nil && string(k) <= string(prev) {
			return bad("record %d: keys out of order", records)
		}
		prev = k
		switch {
		case k[0] == pfxStats:
			st, err := decodeState(v)
			if err != nil {
				return bad("%v", err)
			}
			applied, sawStats = st.Applied, true
		case string(k) == string(inodeKey(RootIno)):
			n, err := decodeInode(v)
			if err != nil || !n.isDir() {
				return bad("root is not a directory")
			}
			sawRoot = true
		}
		n := binary.PutUvarint(hdr[:], uint64(len(k)))
		bw.Write(hdr[:n])
		bw.Write(k)
		n = binary.PutUvarint(hdr[:], uint64(len(v)))
		bw.Write(hdr[:n])
		bw.Write(v)
		records++
	}
	cnt, err := sr.full(8)
	if err != nil {
		return bad("truncated trailer")
	}
	if got := binary.LittleEndian.Uint64(cnt); got != records {
		return bad("%d records, trailer says %d", records, got)
	}
	want := sr.crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(sr.r, sum[:]); err != nil {
		return bad("truncated checksum")
	}
	if got := binary.LittleEndian.Uint32(sum[:]); got != want {
		return bad("checksum mismatch")
	}
	if _, err := sr.r.ReadByte(); err != io.EOF {
		return bad("data after the end")
	}
	if !sawStats || !sawRoot {
		return bad("no stats record or root directory")
	}
	bw.WriteByte(0) // end of records
	if err := bw.Flush(); err != nil {
		return 0, 0, fmt.Errorf("meta: restore: spool: %w", err)
	}
	return records, applied, nil
}

// load drops the state and loads the records spooled in tmp.
func (f *FSM) load(tmp *os.File) error {
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind spool: %w", err)
	}
	if err := f.db.DropAll(); err != nil {
		return fmt.Errorf("drop state: %w", err)
	}
	sr := &snapReader{r: bufio.NewReaderSize(tmp, 64<<10), crc: crc32.New(crcTable)}
	wb := f.db.NewWriteBatch()
	defer wb.Cancel()
	for {
		k, v, err := sr.next()
		if err != nil {
			return fmt.Errorf("read spool: %w", err)
		}
		if k == nil {
			break
		}
		if err := wb.Set(k, append([]byte(nil), v...)); err != nil {
			return fmt.Errorf("load: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	return nil
}
