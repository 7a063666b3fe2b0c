package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dfsproject/dfs/fs/fstest"
	"github.com/dfsproject/dfs/store"
)

// The self-healing tests check, on real dfsd processes with the default
// directory backend (DATA/chunks), what the keepers and the chunk GC do
// with the objects themselves: a node that joins gets its share of the
// copies and no chunk drops below R on the way; the space of removed
// files comes back; and what a writer killed before its commit uploaded
// is collected. They log their figures.

// holders maps the hex ID of each chunk object found on a list of
// backends to the set of them (bit i: the i-th in the list) holding it.
type holders map[string]uint32

// scanChunks lists the whole chunk objects on the directory backend of
// each data directory, in the order given. The backend writes an object
// to a temporary file under .tmp and renames it into place once synced,
// so .tmp is skipped: a copy counts only once it is complete. A scan is
// not atomic across backends; as long as copies move only towards later
// directories in the list (copy there, then delete here), a chunk being
// moved is never missed, it is at worst seen twice.
func scanChunks(dataDirs []string) (holders, error) {
	h := holders{}
	for i, d := range dataDirs {
		root := filepath.Join(d, "chunks")
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				if e.Name() == ".tmp" {
					return filepath.SkipDir
				}
				return nil
			}
			if _, perr := store.ParseChunkID(e.Name()); perr == nil && e.Type().IsRegular() {
				h[e.Name()] |= 1 << i
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", root, err)
		}
	}
	return h, nil
}

func mustScan(t *testing.T, dataDirs []string) holders {
	t.Helper()
	h, err := scanChunks(dataDirs)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// nCopies is the number of backends in set.
func nCopies(set uint32) int {
	n := 0
	for ; set != 0; set &= set - 1 {
		n++
	}
	return n
}

// onNode is how many chunks of h node i holds.
func (h holders) onNode(i int) int {
	n := 0
	for _, set := range h {
		if set&(1<<i) != 0 {
			n++
		}
	}
	return n
}

// nodeNames lists the nodes of set, "n1 n3".
func nodeNames(set uint32) string {
	var s []string
	for i := 0; set>>i != 0; i++ {
		if set&(1<<i) != 0 {
			s = append(s, fstest.Name(i))
		}
	}
	return strings.Join(s, " ")
}

// backendBytes is the size of every file under DATA/chunks (temporary
// files included: they take space too).
func backendBytes(dataDir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(filepath.Join(dataDir, "chunks"), func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			fi, err := e.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// seeded are files of pseudo-random bytes derived from their name and a
// salt drawn per test: they are written and checked without being kept in
// memory, and no two chunks of them are alike (nothing deduplicates).
type seeded struct {
	salt  [16]byte
	sizes map[string]int // name under the mount → size, once its close succeeded
}

func newSeeded() *seeded {
	s := &seeded{sizes: map[string]int{}}
	rand.Read(s.salt[:])
	return s
}

// source returns the stream of name's bytes.
func (s *seeded) source(name string) *mrand.ChaCha8 {
	return mrand.NewChaCha8(sha256.Sum256(append(s.salt[:], name...)))
}

// fill puts name's first len(b) bytes in b.
func (s *seeded) fill(name string, b []byte) {
	s.source(name).Read(b)
}

// write writes name's size bytes under mnt (name may have directories,
// which must exist) and records it once its close succeeded. buf, when
// big enough, is used for the bytes.
func (s *seeded) write(mnt, name string, size int, buf []byte) error {
	if len(buf) < size {
		buf = make([]byte, size)
	}
	b := buf[:size]
	s.fill(name, b)
	if err := os.WriteFile(filepath.Join(mnt, name), b, 0o644); err != nil {
		return err
	}
	s.sizes[name] = size
	return nil
}

// check reads name under mnt and compares it with its bytes.
func (s *seeded) check(mnt, name string) error {
	got, err := os.ReadFile(filepath.Join(mnt, name))
	if err != nil {
		return err
	}
	want := make([]byte, s.sizes[name])
	s.fill(name, want)
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		return fmt.Errorf("%s: %d bytes read, %d written, first difference at %d", filepath.Join(mnt, name), len(got), len(want), i)
	}
	return nil
}

// checkEnds reads the first and the last n bytes of name under mnt and
// compares them with its bytes; buf, when big enough, holds the whole
// file's expected bytes.
func (s *seeded) checkEnds(mnt, name string, n int, buf []byte) error {
	size := s.sizes[name]
	if len(buf) < size {
		buf = make([]byte, size)
	}
	want := buf[:size]
	s.fill(name, want)
	f, err := os.Open(filepath.Join(mnt, name))
	if err != nil {
		return err
	}
	defer f.Close()
	got := make([]byte, min(n, size))
	for _, off := range []int{0, size - len(got)} {
		if _, err := f.ReadAt(got, int64(off)); err != nil {
			return fmt.Errorf("%s at %d: %w", f.Name(), off, err)
		}
		if !bytes.Equal(got, want[off:off+len(got)]) {
			return fmt.Errorf("%s: the %d bytes at %d differ from those written", f.Name(), len(got), off)
		}
	}
	return nil
}

// verify checks every recorded file under mnt.
func (s *seeded) verify(t *testing.T, mnt string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(s.sizes)) {
		if err := s.check(mnt, name); err != nil {
			t.Error(err)
		}
	}
}

// dataDirsOf returns the data directories of c's nodes, in order.
func dataDirsOf(c *fstest.Cluster) []string {
	var d []string
	for _, n := range c.Nodes {
		d = append(d, n.DataDir)
	}
	return d
}

// fileChunks asks node `on` (dfsctl info's control call) for the chunks
// of the file at path (under any mount) and returns, for each chunk, the
// set of nodes the current layout places it on.
func fileChunks(c *fstest.Cluster, on int, path string) (holders, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	ino := fi.Sys().(*syscall.Stat_t).Ino
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := c.Client(on).FileInfo(ctx, ino)
	if err != nil {
		return nil, fmt.Errorf("info %s on %s: %w", path, fstest.Name(on), err)
	}
	if info.Size != uint64(fi.Size()) {
		return nil, fmt.Errorf("info %s on %s: size %d, stat says %d", path, fstest.Name(on), info.Size, fi.Size())
	}
	h := holders{}
	for _, ch := range info.Chunks {
		h[ch.ID] |= 0 // a chunk placed nowhere (no layout) is still listed
		for _, r := range ch.Replicas {
			if i := nodeIndex(c, r.Node); r.Placed && i >= 0 {
				h[ch.ID] |= 1 << i
			}
		}
	}
	return h, nil
}

// placements is fileChunks over several files under mnt.
func placements(c *fstest.Cluster, on int, mnt string, files []string) (holders, error) {
	all := holders{}
	for _, name := range files {
		h, err := fileChunks(c, on, filepath.Join(mnt, name))
		if err != nil {
			return nil, err
		}
		maps.Copy(all, h)
	}
	return all, nil
}

// rebalanceWatch samples the chunk objects on every backend while data
// moves, and keeps the worst it saw of the chunks of `watched`.
type rebalanceWatch struct {
	stop chan struct{}
	wg   sync.WaitGroup

	// Owned by the sampling goroutine until stop is closed and wg done.
	samples, failed int
	firstOnLast     int // copies on the last backend at the first sample
	minCopies       int
	maxCopies       int
	under           []string // the first samples with a chunk under R, described
	lastErr         error
}

func watchCopies(dataDirs []string, watched holders, r int, every time.Duration) *rebalanceWatch {
	w := &rebalanceWatch{stop: make(chan struct{}), minCopies: len(dataDirs) + 1}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			w.sample(dataDirs, watched, r)
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *rebalanceWatch) sample(dataDirs []string, watched holders, r int) {
	h, err := scanChunks(dataDirs)
	if err != nil {
		w.failed++
		w.lastErr = err
		return
	}
	w.samples++
	if w.samples == 1 {
		w.firstOnLast = h.onNode(len(dataDirs) - 1)
	}
	for id := range watched {
		k := nCopies(h[id])
		w.minCopies = min(w.minCopies, k)
		w.maxCopies = max(w.maxCopies, k)
		if k < r && len(w.under) < 5 {
			w.under = append(w.under, fmt.Sprintf("sample %d: chunk %.16s on %d backends (%s)", w.samples, id, k, nodeNames(h[id])))
		}
	}
}

func (w *rebalanceWatch) finish() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

// TestRebalanceOnJoin: 4 nodes of equal capacity hold 128 MiB at 3 copies
// per chunk; a 5th joins. The nodes losing a chunk to it push it there
// and delete their copy: sampled every 50 ms on every backend, no chunk
// ever has fewer than 3 whole copies; within a minute every chunk is
// exactly on the 3 nodes the new layout places it on, and n5 got about
// its fifth of the copies, no more than the layout moves to it (at most
// one copy per chunk). Every file reads back whole on n5 and n1.
func TestRebalanceOnJoin(t *testing.T) {
	const (
		nFiles   = 8
		fileSize = 16 << 20
		r        = 3
	)
	c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 4, Mount: true,
		// Equal weights: the fair share of each node is the same.
		Args: []string{"--capacity", "100GiB"}})
	waitReplicated(t, c)
	files := newSeeded()
	var list []string
	buf := make([]byte, fileSize)
	start := time.Now()
	for i := range nFiles {
		name := fmt.Sprintf("f%d", i)
		if err := files.write(c.Nodes[i%4].Mountpoint, name, fileSize, buf); err != nil {
			t.Fatal(err)
		}
		list = append(list, name)
	}
	t.Logf("wrote %d MiB in %d files on n1-n4 in %v", nFiles*fileSize>>20, nFiles, time.Since(start).Round(time.Millisecond))

	// Before the join: each chunk on exactly its 3 placed nodes of 4.
	old := dataDirsOf(c)
	var before, placed4 holders
	fstest.Eventually(t, 30*time.Second, "every chunk on its 3 placed nodes of 4", func() error {
		var err error
		if placed4, err = placements(c, 0, c.Nodes[0].Mountpoint, list); err != nil {
			return err
		}
		if before, err = scanChunks(old); err != nil {
			return err
		}
		return sameHolders(before, placed4, r)
	})
	if want := nFiles * fileSize / (4 << 20); len(before) != want {
		t.Fatalf("%d chunks on the backends; want %d (4 MiB chunks)", len(before), want)
	}
	copies := len(before) * r
	t.Logf("before the join: %d chunks, %d copies: n1 %d, n2 %d, n3 %d, n4 %d",
		len(before), copies, before.onNode(0), before.onNode(1), before.onNode(2), before.onNode(3))

	joined := time.Now()
	c.AddNode(t)
	all := dataDirsOf(c) // n5 last: copies only move towards it
	watch := watchCopies(all, before, r, 50*time.Millisecond)
	t.Cleanup(watch.finish)

	// The layout with n5, as n1 sees it.
	var placed5 holders
	fstest.Eventually(t, 30*time.Second, "a layout placing chunks on n5", func() error {
		var err error
		if placed5, err = placements(c, 0, c.Nodes[0].Mountpoint, list); err != nil {
			return err
		}
		if placed5.onNode(4) == 0 {
			return errors.New("no chunk placed on n5")
		}
		return nil
	})
	inLayout := time.Since(joined)
	layoutIn := layoutVersions(c)
	var after holders
	fstest.Eventually(t, 60*time.Second, "every chunk on its 3 placed nodes of 5", func() error {
		var err error
		if placed5, err = placements(c, 0, c.Nodes[0].Mountpoint, list); err != nil {
			return err
		}
		if after, err = scanChunks(all); err != nil {
			return err
		}
		if err := sameHolders(after, placed5, r); err != nil {
			return fmt.Errorf("%w (layouts: %s)", err, layoutVersions(c))
		}
		return nil
	})
	settled := time.Since(joined)
	watch.finish()

	ideal := placed5.onNode(4)
	arrived := after.onNode(4)
	fair := float64(copies) / 5
	gained, lost := 0, 0
	for id, set := range after {
		gained += nCopies(set &^ before[id])
		lost += nCopies(before[id] &^ set)
	}
	t.Logf("n5 joined: in the layout after %v (versions %s), settled after %v (versions %s)",
		inLayout.Round(time.Millisecond), layoutIn, settled.Round(time.Millisecond), layoutVersions(c))
	t.Logf("copies moved: %d to n5 (the layout places %d chunks on it; fair share %.1f of %d copies, 1.5x = %.1f), %d to other nodes, %d old copies deleted",
		arrived, ideal, fair, copies, 1.5*fair, gained-arrived, lost)
	t.Logf("after: n1 %d, n2 %d, n3 %d, n4 %d, n5 %d copies",
		after.onNode(0), after.onNode(1), after.onNode(2), after.onNode(3), after.onNode(4))
	// The watch starts once AddNode returns: copies n5 got before then
	// (none so far: the layout takes n5 in later) were not watched.
	t.Logf("watch: %d samples (%d failed), copies per chunk between %d and %d, %d on n5 at the first sample",
		watch.samples, watch.failed, watch.minCopies, watch.maxCopies, watch.firstOnLast)

	if watch.samples < 5 {
		t.Errorf("only %d samples of the backends during the rebalance (%d failed, last: %v)", watch.samples, watch.failed, watch.lastErr)
	}
	if len(watch.under) > 0 {
		t.Errorf("a chunk had fewer than %d copies during the rebalance:\n%s", r, strings.Join(watch.under, "\n"))
	}
	if arrived == 0 || float64(arrived) > 1.5*fair {
		t.Errorf("%d copies arrived on n5; want more than 0 and at most 1.5 x its fair share %.1f", arrived, fair)
	}
	if gained != arrived {
		t.Errorf("%d copies were made on nodes other than n5; adding a node should move copies to it only", gained-arrived)
	}
	files.verify(t, c.Nodes[4].Mountpoint)
	files.verify(t, c.Nodes[0].Mountpoint)
}

// layoutVersions is the layout version each running node reports.
func layoutVersions(c *fstest.Cluster) string {
	var s []string
	for i, d := range c.Nodes {
		if !d.Running() {
			continue
		}
		v := "?"
		if rs, err := raftStatus(c, i); err == nil {
			v = fmt.Sprint(rs.LayoutVersion)
		}
		s = append(s, fstest.Name(i)+"="+v)
	}
	return strings.Join(s, " ")
}

// sameHolders says how h differs from want (the placement of each chunk)
// or returns nil: every chunk of want on exactly its r placed nodes, and
// no other chunk object anywhere.
func sameHolders(h, want holders, r int) error {
	for _, id := range slices.Sorted(maps.Keys(want)) {
		if nCopies(want[id]) != r {
			return fmt.Errorf("chunk %.16s placed on %q; want %d nodes", id, nodeNames(want[id]), r)
		}
		if h[id] != want[id] {
			return fmt.Errorf("chunk %.16s on %q; placed on %q", id, nodeNames(h[id]), nodeNames(want[id]))
		}
	}
	for id, set := range h {
		if _, ok := want[id]; !ok {
			return fmt.Errorf("chunk %.16s on %q belongs to no file", id, nodeNames(set))
		}
	}
	return nil
}

// TestSpaceReturnsAfterRm: 1 GiB written in 16 files through one mount of
// 3 nodes (R=3) takes 1 GiB on each backend; after rm -rf the backends
// are back to where they were within a few MiB, soon after --gc-grace
// (3s) has passed. Before the rm, the first and last chunk of every file
// read back whole on another host.
func TestSpaceReturnsAfterRm(t *testing.T) {
	const (
		grace    = 3 * time.Second
		nFiles   = 16
		fileSize = 64 << 20
		total    = nFiles * fileSize
		slack    = 4 << 20
	)
	c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 3, Mount: true,
		Args: []string{"--gc-grace", grace.String()}})
	waitReplicated(t, c)
	dirs := dataDirsOf(c)
	used := func() ([]int64, error) {
		var u []int64
		for _, d := range dirs {
			n, err := backendBytes(d)
			if err != nil {
				return nil, err
			}
			u = append(u, n)
		}
		return u, nil
	}
	before, err := used()
	if err != nil {
		t.Fatal(err)
	}

	mnt := c.Nodes[0].Mountpoint
	if err := os.Mkdir(filepath.Join(mnt, "big"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := newSeeded()
	buf := make([]byte, fileSize)
	var gen time.Duration
	start := time.Now()
	for i := range nFiles {
		name := fmt.Sprintf("big/f%02d", i)
		g := time.Now()
		files.fill(name, buf)
		gen += time.Since(g)
		if err := os.WriteFile(filepath.Join(mnt, name), buf, 0o644); err != nil {
			t.Fatal(err)
		}
		files.sizes[name] = fileSize
	}
	took := time.Since(start) - gen
	t.Logf("wrote %d MiB in %d files through n1 in %v: %.0f MiB/s (byte generation excluded)",
		total>>20, nFiles, took.Round(time.Millisecond), float64(total>>20)/took.Seconds())

	// Every backend holds the 1 GiB (3 copies on 3 nodes), and what was
	// written reads back, on another host, after more than the grace.
	var full []int64
	fstest.Eventually(t, 30*time.Second, "1 GiB more on every backend", func() error {
		if full, err = used(); err != nil {
			return err
		}
		for i := range full {
			if full[i]-before[i] < total {
				return fmt.Errorf("%s: %d MiB more than before the writes", fstest.Name(i), (full[i]-before[i])>>20)
			}
		}
		return nil
	})
	t.Logf("backend bytes before: %v; after the writes: %v", before, full)
	// A file's first chunk is uploaded long before its close commits it:
	// check it is still there, on another host (its last chunk too).
	for _, name := range slices.Sorted(maps.Keys(files.sizes)) {
		if err := files.checkEnds(c.Nodes[1].Mountpoint, name, 4<<20, buf); err != nil {
			t.Error(err)
		}
	}

	rm := time.Now()
	if out, err := exec.Command("rm", "-rf", filepath.Join(mnt, "big")).CombinedOutput(); err != nil {
		t.Fatalf("rm -rf: %v: %s", err, out)
	}
	t.Logf("rm -rf of %d files: %v", nFiles, time.Since(rm).Round(time.Millisecond))
	var now []int64
	fstest.Eventually(t, 90*time.Second, "the backends back to their size before the writes", func() error {
		if now, err = used(); err != nil {
			return err
		}
		for i := range now {
			if now[i]-before[i] > slack {
				return fmt.Errorf("%s: %d MiB more than before the writes", fstest.Name(i), (now[i]-before[i])>>20)
			}
		}
		return nil
	})
	lag := time.Since(rm)
	t.Logf("space back %v after rm (gc-grace %v, so %v of GC lag): backend bytes %v", lag.Round(time.Millisecond), grace, (lag - grace).Round(time.Millisecond), now)
}

// TestOrphanUploadsCollected: a writer's dfsd is killed -9 while it
// uploads the chunks of a 256 MiB file, before the close that would have
// committed them. Those objects, on the survivors and on the killed node's
// own backend, belong to no file: once the node is started again they are
// all deleted after --gc-grace (5s), and the files committed before still
// read back whole on every node with their 3 copies.
func TestOrphanUploadsCollected(t *testing.T) {
	const (
		grace    = 5 * time.Second
		bigSize  = 256 << 20
		minAhead = 6 // whole objects of the unfinished file before the kill
	)
	c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 3, Mount: true,
		// A small write buffer: the writer uploads as it goes.
		Args: []string{"--gc-grace", grace.String(), "--max-dirty", "8MiB"}})
	waitReplicated(t, c)
	w := (leader(t, c, 0) + 1) % 3 // the writer is not the leader: no election
	dirs := dataDirsOf(c)

	files := newSeeded()
	var kept []string
	for i := range 3 {
		name := fmt.Sprintf("kept%d", i)
		if err := files.write(c.Nodes[(w+i)%3].Mountpoint, name, 8<<20+i*(1<<20), nil); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, name)
	}
	var base holders
	fstest.Eventually(t, 30*time.Second, "the kept files' chunks on every node", func() error {
		var err error
		if base, err = scanChunks(dirs); err != nil {
			return err
		}
		for id, set := range base {
			if nCopies(set) != 3 {
				return fmt.Errorf("chunk %.16s on %q", id, nodeNames(set))
			}
		}
		return nil
	})

	// Write the big file on w; kill w once some of its chunks are stored.
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := os.Create(filepath.Join(c.Nodes[w].Mountpoint, "inflight"))
		if err != nil {
			done <- result{0, err}
			return
		}
		src := files.source("inflight")
		b := make([]byte, 1<<20)
		var n int64
		for n < bigSize {
			src.Read(b)
			k, err := f.Write(b)
			n += int64(k)
			if err != nil {
				f.Close()
				done <- result{n, err}
				return
			}
		}
		done <- result{n, f.Close()}
	}()
	writing := time.Now()
	var ahead int
	fstest.Eventually(t, 60*time.Second, "chunks of the unfinished file stored", func() error {
		select {
		case r := <-done:
			t.Fatalf("the write of %d MiB ended (%d bytes, %v) before %d of its chunks were seen: nothing to kill in flight", bigSize>>20, r.n, r.err, minAhead)
		default:
		}
		h, err := scanChunks(dirs)
		if err != nil {
			return err
		}
		ahead = 0
		for id := range h {
			if _, ok := base[id]; !ok {
				ahead++
			}
		}
		if ahead < minAhead {
			return fmt.Errorf("%d new chunk objects", ahead)
		}
		return nil
	})
	c.Nodes[w].Kill9(t)
	killed := time.Now()
	t.Logf("%s killed -9 %v after the write began, %d new chunk objects seen", fstest.Name(w), killed.Sub(writing).Round(time.Millisecond), ahead)
	select {
	case r := <-done:
		if r.err == nil {
			t.Fatalf("the write of %d MiB succeeded, close included, though its node was killed", bigSize>>20)
		}
		t.Logf("the writer got %v after %d MiB", r.err, r.n>>20)
	case <-time.After(30 * time.Second):
		t.Fatal("the writer still blocked 30s after its dfsd was killed")
	}

	// The orphans: every object now stored that no file references.
	after := mustScan(t, dirs)
	orphans := holders{}
	for id, set := range after {
		if _, ok := base[id]; !ok {
			orphans[id] = set
		}
	}
	if len(orphans) == 0 {
		t.Fatal("no orphan chunk object on any backend after the kill")
	}
	c.Nodes[w].StartAgain(t)
	c.WaitAlive(t, 20*time.Second)
	restarted := time.Now()
	refd := holders{}
	for _, name := range append(slices.Clone(kept), "inflight") {
		h, err := fileChunks(c, 0, filepath.Join(c.Nodes[0].Mountpoint, name))
		if err != nil {
			if name == "inflight" && errors.Is(err, os.ErrNotExist) {
				continue
			}
			t.Fatal(err)
		}
		maps.Copy(refd, h)
	}
	for id := range base {
		if _, ok := refd[id]; !ok {
			t.Errorf("chunk %.16s, stored before the big write, is in no kept file", id)
		}
	}
	for id := range orphans {
		if _, ok := refd[id]; ok {
			t.Errorf("chunk %.16s, uploaded for the unfinished file, is referenced", id)
		}
	}
	fi, err := os.Stat(filepath.Join(c.Nodes[0].Mountpoint, "inflight"))
	inflight := "gone"
	if err == nil {
		inflight = fmt.Sprintf("%d bytes", fi.Size())
	}
	t.Logf("orphans: %d chunk objects, n1 %d, n2 %d, n3 %d (%s is the writer); the unfinished file is now %s",
		len(orphans), orphans.onNode(0), orphans.onNode(1), orphans.onNode(2), fstest.Name(w), inflight)

	// Every orphan goes, and so does any upload that landed after the
	// scan: in the end only the kept files' chunks are stored.
	fstest.Eventually(t, 60*time.Second, "every orphan object deleted", func() error {
		h, err := scanChunks(dirs)
		if err != nil {
			return err
		}
		left := 0
		var some string
		for id, set := range h {
			if _, ok := base[id]; !ok {
				left++
				some = fmt.Sprintf("%.16s on %q", id, nodeNames(set))
			}
		}
		if left > 0 {
			return fmt.Errorf("%d objects of no file left, such as %s", left, some)
		}
		return nil
	})
	t.Logf("orphans all deleted %v after the kill, %v after the restart (gc-grace %v)",
		time.Since(killed).Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond), grace)

	now := mustScan(t, dirs)
	for id := range base {
		if nCopies(now[id]) != 3 {
			t.Errorf("kept chunk %.16s on %q; want all 3 nodes", id, nodeNames(now[id]))
		}
	}
	// A put the kill cut short leaves its temporary file: the backend
	// removes those only when it opens and they are an hour old.
	var tmpFiles, tmpBytes int64
	for _, d := range dirs {
		ents, _ := os.ReadDir(filepath.Join(d, "chunks", ".tmp"))
		for _, e := range ents {
			if fi, err := e.Info(); err == nil {
				tmpFiles++
				tmpBytes += fi.Size()
			}
		}
	}
	t.Logf("temporary files left in the backends' .tmp: %d, %d bytes", tmpFiles, tmpBytes)
	for i := range c.Nodes {
		files.verify(t, c.Nodes[i].Mountpoint)
	}
}

// TestLongOpenWriterKeepsChunks: a file kept open and written for longer
// than the GC grace keeps its early chunks (uploaded long before the
// close): writeback commits them before any collector may take them.
func TestLongOpenWriterKeepsChunks(t *testing.T) {
	const grace = 2 * time.Second
	c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 3, Mount: true,
		Args: []string{"--gc-grace", grace.String()}})
	waitReplicated(t, c)
	s := newSeeded()
	want := make([]byte, 12<<20)
	s.fill("slow", want)
	f, err := os.Create(filepath.Join(c.Nodes[0].Mountpoint, "slow"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := f.Write(want[i<<22 : (i+1)<<22]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * grace)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close after a write held open for %v: %v", 9*grace, err)
	}
	s.sizes["slow"] = len(want)
	time.Sleep(2 * grace) // the collectors have had their chance
	for i := range c.Nodes {
		s.verify(t, c.Nodes[i].Mountpoint)
	}
}

// TestGCRacesRewrites: each round, every file of some contents is
// removed, and once those chunks have been garbage for the grace (the
// collectors of the three nodes may delete them at any moment), n2 and n3
// write files of the very same contents at once. Every file whose close
// succeeded reads back on every host and its chunks have 3 copies: no
// collector deleted a chunk a commit references.
func TestGCRacesRewrites(t *testing.T) {
	const grace = time.Second
	c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 3, Mount: true,
		Args: []string{"--gc-grace", grace.String()}})
	waitReplicated(t, c)
	mnt := func(i int) string { return c.Nodes[i].Mountpoint }
	const rounds, contents = 8, 4
	blobs := make([][]byte, contents)
	for i := range blobs {
		blobs[i] = make([]byte, 4<<20+(i+1)*1000) // two chunks each
		mrand.NewChaCha8([32]byte{byte(i)}).Read(blobs[i])
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	var prev []string
	written := 0
	for r := range rounds {
		for _, p := range prev {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		prev = nil
		// n1 writes and removes a file of each content: garbage now.
		for i, b := range blobs {
			name := filepath.Join(mnt(0), fmt.Sprintf("g%d-%d", r, i))
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(name); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(grace + time.Duration(rng.IntN(600))*time.Millisecond)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, w := range []int{1, 2} {
			wg.Go(func() {
				for i, b := range blobs {
					name := filepath.Join(mnt(w), fmt.Sprintf("k%d-%d-%d", r, w, i))
					if err := os.WriteFile(name, b, 0o644); err != nil {
						t.Errorf("write %s: %v", name, err)
						continue
					}
					mu.Lock()
					prev = append(prev, name)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		written += len(prev)
		copies := copiesOn(t, dataDirsOf(c))
		for _, b := range blobs {
			for _, id := range []store.ChunkID{store.Sum(b[:4<<20]), store.Sum(b[4<<20:])} {
				if copies[id.String()] != 3 {
					t.Errorf("round %d: chunk %s of a file just closed has %d copies; want 3", r, id, copies[id.String()])
				}
			}
		}
		for _, p := range prev {
			rel, _ := filepath.Rel(mnt(1), p)
			if strings.HasPrefix(rel, "..") {
				rel, _ = filepath.Rel(mnt(2), p)
			}
			want := blobs[int(p[len(p)-1]-'0')]
			for i := range c.Nodes {
				got, err := os.ReadFile(filepath.Join(mnt(i), rel))
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("round %d: %s on %s: %d bytes, %v; want the %d written", r, rel, fstest.Name(i), len(got), err, len(want))
				}
			}
		}
	}
	t.Logf("%d files written in %d rounds over contents garbage for the grace", written, rounds)
}

// chunkIDs returns the IDs of the 4 MiB chunks of b.
func chunkIDs(b []byte) []string {
	var ids []string
	for off := 0; off < len(b); off += 4 << 20 {
		ids = append(ids, store.Sum(b[off:min(off+4<<20, len(b))]).String())
	}
	return ids
}

// TestRemovedWhileOpenElsewhere: a file open on one host and removed (or
// renamed over) on another still reads whole through the open handle,
// past the GC grace; once the handle is closed its chunks go. A file held
// open by a host that crashes is reclaimed by the leader's sweep.
func TestRemovedWhileOpenElsewhere(t *testing.T) {
	const grace = time.Second
	c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 3, Mount: true,
		Args: []string{"--gc-grace", grace.String()}})
	waitReplicated(t, c)
	mnt := func(i int) string { return filepath.Join(c.Nodes[i].Mountpoint) }
	content := func(seed byte) []byte {
		b := make([]byte, 9<<20)
		mrand.NewChaCha8([32]byte{seed}).Read(b)
		return b
	}
	f, h, k := content(1), content(2), content(3)
	for name, b := range map[string][]byte{"f": f, "h": h, "k": k} {
		if err := os.WriteFile(filepath.Join(mnt(0), name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	open := func(i int, name string) *os.File {
		fd, err := os.Open(filepath.Join(mnt(i), name))
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	fdF, fdH, fdK := open(1, "f"), open(1, "h"), open(2, "k")
	// n1 removes f and k; n3 renames a new file over h.
	for _, name := range []string{"f", "k"} {
		if err := os.Remove(filepath.Join(mnt(0), name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(mnt(2), "h.new"), []byte("new h"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(mnt(2), "h.new"), filepath.Join(mnt(2), "h")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * grace) // past the grace: the collectors have had their chance
	for _, tc := range []struct {
		fd   *os.File
		want []byte
	}{{fdF, f}, {fdH, h}} {
		got, err := io.ReadAll(tc.fd)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s read through the handle n2 kept: %d bytes, %v; want the %d written", tc.fd.Name(), len(got), err, len(tc.want))
		}
	}
	dirs := dataDirsOf(c)
	gone := func(b []byte) func() error {
		return func() error {
			if !c.Nodes[2].Running() {
				dirs = dirs[:2] // a dead node's disk keeps what it had
			}
			copies := copiesOn(t, dirs)
			for _, id := range chunkIDs(b) {
				if copies[id] != 0 {
					return fmt.Errorf("chunk %s still has %d copies", id, copies[id])
				}
			}
			return nil
		}
	}
	if err := gone(f)(); err == nil {
		t.Fatal("f's chunks are gone while n2 still holds it open")
	}
	fdF.Close()
	fdH.Close()
	fstest.Eventually(t, 30*time.Second, "f's chunks deleted once n2 closed it", gone(f))
	fstest.Eventually(t, 30*time.Second, "the old h's chunks deleted once n2 closed it", gone(h))

	c.Nodes[2].Kill9(t)
	fdK.Close()
	fstest.Eventually(t, 60*time.Second, "k's chunks deleted after its holder n3 crashed", gone(k))
}
