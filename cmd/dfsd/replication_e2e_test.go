package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/dfsproject/dfs/cluster/control"
	"github.com/dfsproject/dfs/fs/fstest"
	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/s3test"
)

// The replication tests run three mounted nodes, each on its own MinIO
// bucket, with a dead node leaving Raft and the placement layout after
// downOut and a metadata change without a leader failing after
// mutationTimeout.
const (
	downOut         = 5 * time.Second
	mutationTimeout = 3 * time.Second
)

// replCluster starts the three nodes and waits until chunks go to all of
// them. It returns the cluster and the backend URL of each node.
func replCluster(t *testing.T) (*fstest.Cluster, []string) {
	t.Helper()
	var backends []string
	c := fstest.StartCluster(t, fstest.ClusterOptions{
		Nodes: 3,
		Mount: true,
		Args:  []string{"--down-out", downOut.String(), "--mutation-timeout", mutationTimeout.String()},
		Backend: func(int) string {
			u := fstest.MinIOBackend(t)
			backends = append(backends, u)
			return u
		},
	})
	waitReplicated(t, c)
	return c, backends
}

// waitReplicated waits until every running node has a leader, the three
// first nodes as voters and a layout placing each chunk on three nodes.
func waitReplicated(t *testing.T, c *fstest.Cluster) {
	t.Helper()
	waitRaft(t, c, 30*time.Second, 3, "n1", "n2", "n3")
}

// waitRaft waits until every running node reports a leader, exactly
// these voters and a layout with this many replicas per chunk.
func waitRaft(t *testing.T, c *fstest.Cluster, timeout time.Duration, replicas int, voters ...string) {
	t.Helper()
	want := strings.Join(slices.Sorted(slices.Values(voters)), " ")
	fstest.Eventually(t, timeout, fmt.Sprintf("leader, voters %s and %d replicas on every node", want, replicas), func() error {
		for i, d := range c.Nodes {
			if !d.Running() {
				continue
			}
			rs, err := raftStatus(c, i)
			if err != nil {
				return err
			}
			got := slices.Sorted(slices.Values(rs.Voters))
			if rs.Leader == "" || strings.Join(got, " ") != want || rs.LayoutVersion == 0 || rs.Replicas != replicas {
				return fmt.Errorf("%s: leader %q, voters %v, layout %d with %d replicas", fstest.Name(i), rs.Leader, got, rs.LayoutVersion, rs.Replicas)
			}
		}
		return nil
	})
}

func raftStatus(c *fstest.Cluster, i int) (*control.RaftStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.Client(i).Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("status of %s: %v", fstest.Name(i), err)
	}
	if st.Raft == nil {
		return nil, fmt.Errorf("%s reports no Raft group", fstest.Name(i))
	}
	return st.Raft, nil
}

// leader returns the index of the Raft leader as node `on` sees it.
func leader(t *testing.T, c *fstest.Cluster, on int) int {
	t.Helper()
	var l int
	fstest.Eventually(t, 10*time.Second, "a Raft leader seen by "+fstest.Name(on), func() error {
		rs, err := raftStatus(c, on)
		if err != nil {
			return err
		}
		l = nodeIndex(c, rs.Leader)
		if l < 0 || !c.Nodes[l].Running() {
			return fmt.Errorf("leader %q", rs.Leader)
		}
		return nil
	})
	return l
}

// nodeIndex returns the index of the node named name, or -1.
func nodeIndex(c *fstest.Cluster, name string) int {
	for i := range c.Nodes {
		if fstest.Name(i) == name {
			return i
		}
	}
	return -1
}

// others returns the indexes of the three first nodes but the given ones.
func others(not ...int) []int {
	var o []int
	for i := range 3 {
		if !slices.Contains(not, i) {
			o = append(o, i)
		}
	}
	return o
}

// fileSet is what a test wrote and expects to read back: the SHA-256 of
// each file's bytes by its name under a mount.
type fileSet map[string][sha256.Size]byte

// write writes size random bytes to name under mnt, and records them if
// the whole write, close included, succeeded.
func (s fileSet) write(mnt, name string, size int) error {
	b := make([]byte, size)
	rand.Read(b)
	if err := os.WriteFile(filepath.Join(mnt, name), b, 0o644); err != nil {
		return err
	}
	s[name] = sha256.Sum256(b)
	return nil
}

// check reads name under mnt and compares it with what was written.
func (s fileSet) check(mnt, name string) error {
	b, err := os.ReadFile(filepath.Join(mnt, name))
	if err != nil {
		return err
	}
	if sha256.Sum256(b) != s[name] {
		return fmt.Errorf("%s: the %d bytes read differ from those written", filepath.Join(mnt, name), len(b))
	}
	return nil
}

// verify checks every file of the set under mnt.
func (s fileSet) verify(t *testing.T, mnt string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(s)) {
		if err := s.check(mnt, name); err != nil {
			t.Error(err)
		}
	}
}

// TestReplVisibility: what one host closed, renamed or removed is what
// the others see at once (close-to-open), down to ls -l.
func TestReplVisibility(t *testing.T) {
	c, _ := replCluster(t)
	mnt := func(i int) string { return c.Nodes[i].Mountpoint }
	src := t.TempDir()
	big := randomFile(t, filepath.Join(src, "big"), 64<<20)

	start := time.Now()
	if out, err := exec.Command("cp", filepath.Join(src, "big"), mnt(0)).CombinedOutput(); err != nil {
		t.Fatalf("cp of 64 MiB into n1: %v: %s", err, out)
	}
	t.Logf("cp of 64 MiB on n1: %v", time.Since(start).Round(time.Millisecond))
	want := fileSet{"big": sha256.Sum256(big)}
	for _, i := range []int{1, 2} {
		if err := want.check(mnt(i), "big"); err != nil {
			t.Fatalf("on %s right after cp on n1: %v", fstest.Name(i), err)
		}
	}

	sh(t, mnt(1), "mv big moved")
	if got := sh(t, mnt(0), "ls"); got != "moved\n" {
		t.Errorf("ls on n1 right after mv on n2: %q; want moved", got)
	}
	want["moved"] = want["big"]
	if err := want.check(mnt(0), "moved"); err != nil {
		t.Errorf("on n1 after mv on n2: %v", err)
	}
	sh(t, mnt(2), "rm moved")
	for i := range 3 {
		if got := sh(t, mnt(i), "ls -A"); got != "" {
			t.Errorf("ls on %s right after rm on n3: %q; want nothing", fstest.Name(i), got)
		}
		// A name looked up before may stay in the kernel's entry cache
		// for up to a second.
		fstest.Eventually(t, 3*time.Second, "moved gone on "+fstest.Name(i), func() error {
			if _, err := os.Lstat(filepath.Join(mnt(i), "moved")); !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("lstat: %v", err)
			}
			return nil
		})
	}

	sh(t, mnt(0), "mkdir -m 0750 dir && echo hello > dir/small && chmod 0600 dir/small && ln -s dir/small link && head -c 5000000 /dev/urandom > mid && chmod 0444 mid && mkfifo fifo")
	sh(t, mnt(1), "touch -d @1700000000 dir/small && mkdir dir/sub")
	var first string
	for i := range 3 {
		ls := sh(t, mnt(i), "ls -lnAR --time-style=+%s")
		if i == 0 {
			first = ls
		} else if ls != first {
			t.Errorf("ls -lnAR on %s differs from n1:\n%s\nn1:\n%s", fstest.Name(i), ls, first)
		}
	}

	// Close on n1 to a successful open and read on n2: the open of a
	// name n2 never saw must find it at once (no retry).
	var lat []time.Duration
	payload := []byte("close-to-open\n")
	for k := range 21 {
		name := fmt.Sprintf("lat%02d", k)
		if err := os.WriteFile(filepath.Join(mnt(0), name), payload, 0o644); err != nil {
			t.Fatal(err)
		}
		closed := time.Now()
		got, err := os.ReadFile(filepath.Join(mnt(1), name))
		lat = append(lat, time.Since(closed))
		if err != nil || string(got) != string(payload) {
			t.Errorf("%s on n2 right after close on n1: %q, %v", name, got, err)
		}
	}
	slices.Sort(lat)
	t.Logf("close on n1 to open+read on n2: median %v, max %v over %d files",
		lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond), len(lat))
}

// TestReplConcurrentCreates: three hosts creating in one directory at
// once lose nothing, and of three racing exclusive creates of one name
// exactly one wins.
func TestReplConcurrentCreates(t *testing.T) {
	c, _ := replCluster(t)
	if err := os.Mkdir(filepath.Join(c.Nodes[0].Mountpoint, "shared"), 0o755); err != nil {
		t.Fatal(err)
	}
	const perHost = 300
	var wg sync.WaitGroup
	errs := make(chan error, 3*perHost)
	start := time.Now()
	for i := range 3 {
		wg.Go(func() {
			for k := range perHost {
				name := filepath.Join(c.Nodes[i].Mountpoint, "shared", fmt.Sprintf("%s-%03d", fstest.Name(i), k))
				if err := os.WriteFile(name, []byte(name), 0o644); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d creates from three hosts at once: %v", 3*perHost, time.Since(start).Round(time.Millisecond))
	for i := range 3 {
		ents, err := os.ReadDir(filepath.Join(c.Nodes[i].Mountpoint, "shared"))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range ents {
			seen[e.Name()] = true
		}
		for j := range 3 {
			for k := range perHost {
				if name := fmt.Sprintf("%s-%03d", fstest.Name(j), k); !seen[name] {
					t.Errorf("%s does not list %s", fstest.Name(i), name)
				}
			}
		}
		if len(ents) != 3*perHost {
			t.Errorf("%s lists %d entries; want %d", fstest.Name(i), len(ents), 3*perHost)
		}
	}

	for round := range 20 {
		name := fmt.Sprintf("race%02d", round)
		var winners []int
		var mu sync.Mutex
		ready := make(chan struct{})
		for i := range 3 {
			wg.Go(func() {
				<-ready
				f, err := os.OpenFile(filepath.Join(c.Nodes[i].Mountpoint, "shared", name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
				if err != nil {
					if !errors.Is(err, syscall.EEXIST) {
						t.Errorf("%s on %s: %v; want success or EEXIST", name, fstest.Name(i), err)
					}
					return
				}
				_, err = f.WriteString(fstest.Name(i))
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					t.Errorf("%s on %s, which created it: %v", name, fstest.Name(i), err)
				}
				mu.Lock()
				winners = append(winners, i)
				mu.Unlock()
			})
		}
		close(ready)
		wg.Wait()
		if len(winners) != 1 {
			t.Errorf("%s: %d exclusive creates succeeded (%v); want exactly one", name, len(winners), winners)
			continue
		}
		for i := range 3 {
			got, err := os.ReadFile(filepath.Join(c.Nodes[i].Mountpoint, "shared", name))
			if err != nil || string(got) != fstest.Name(winners[0]) {
				t.Errorf("%s on %s: %q, %v; want what the winner %s wrote", name, fstest.Name(i), got, err, fstest.Name(winners[0]))
			}
		}
	}
}

// TestReplReadYourWrites: a host that is not the leader sees its own
// changes at once, as a single node does (each is applied by the leader
// on another host).
func TestReplReadYourWrites(t *testing.T) {
	c, _ := replCluster(t)
	f := others(leader(t, c, 0))[0]
	mnt := c.Nodes[f].Mountpoint
	stale := map[string]int{}
	for k := range 20 {
		a, b := filepath.Join(mnt, fmt.Sprintf("a%02d", k)), filepath.Join(mnt, fmt.Sprintf("b%02d", k))
		if err := os.WriteFile(a, []byte("hello"), 0o644); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(a); err != nil || st.Size() != 5 {
			stale["stat after a 5-byte write and close"]++
		}
		if err := os.Rename(a, b); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(a); !errors.Is(err, os.ErrNotExist) {
			stale["lstat of a rename's old name"]++
		}
		if err := os.Remove(b); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(b); !errors.Is(err, os.ErrNotExist) {
			stale["lstat of a removed name"]++
		}
	}
	for _, what := range slices.Sorted(maps.Keys(stale)) {
		n := stale[what]
		t.Errorf("on %s (a follower), %s: %d of 20 answers stale", fstest.Name(f), what, n)
	}
}

// iteration is one create/write/close/read-back of the write loop.
type iteration struct {
	name       string
	start, end time.Time
	err        error // of the write (create, write or close)
	readErr    error // of the read-back after a successful close
}

// writeLoop writes files of 64 KiB to 5 MiB of random bytes under a
// mount, one after the other, reading each back after its close, until
// finish. Nothing is retried: after a failure the loop goes on with the
// next file.
type writeLoop struct {
	stop, done chan struct{}
	once       sync.Once
	files      fileSet // those whose close succeeded; the loop's own until done

	mu    sync.Mutex
	iters []iteration
}

func startWriteLoop(mnt string) *writeLoop {
	w := &writeLoop{stop: make(chan struct{}), done: make(chan struct{}), files: fileSet{}}
	go func() {
		defer close(w.done)
		for k := 0; ; k++ {
			select {
			case <-w.stop:
				return
			default:
			}
			it := iteration{name: fmt.Sprintf("loop%03d", k), start: time.Now()}
			it.err = w.files.write(mnt, it.name, 64<<10+mrand.IntN(5<<20-64<<10))
			if it.err == nil {
				it.readErr = w.files.check(mnt, it.name)
			}
			it.end = time.Now()
			w.mu.Lock()
			w.iters = append(w.iters, it)
			w.mu.Unlock()
			if it.err != nil {
				time.Sleep(50 * time.Millisecond) // a failure is fast: do not spin
			}
		}
	}()
	return w
}

// waitOK waits until n iterations that started after since succeeded.
func (w *writeLoop) waitOK(t *testing.T, timeout time.Duration, since time.Time, n int) {
	t.Helper()
	fstest.Eventually(t, timeout, fmt.Sprintf("%d writes in the loop", n), func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		ok := 0
		for _, it := range w.iters {
			if it.start.After(since) && it.err == nil {
				ok++
			}
		}
		if ok < n {
			return fmt.Errorf("%d of %d iterations since %s succeeded", ok, len(w.iters), since.Format("15:04:05.000"))
		}
		return nil
	})
}

// finish stops the loop (once) and returns its iterations and the files
// whose close succeeded.
func (w *writeLoop) finish() ([]iteration, fileSet) {
	w.once.Do(func() {
		close(w.stop)
		<-w.done
	})
	return w.iters, w.files
}

// TestReplLeaderKill kills the Raft leader while a non-leader host writes
// files in a loop: the loop goes on once a new leader is elected, every
// file whose close succeeded is intact on both survivors, and the killed
// node, started again, catches up.
func TestReplLeaderKill(t *testing.T) {
	c, _ := replCluster(t)
	l := leader(t, c, 0)
	o := others(l)
	h, s := o[0], o[1]
	loop := startWriteLoop(c.Nodes[h].Mountpoint)
	t.Cleanup(func() { loop.finish() })
	loop.waitOK(t, 30*time.Second, time.Time{}, 3)

	killed := time.Now()
	c.Nodes[l].Kill9(t)
	var elected time.Time
	fstest.Eventually(t, 15*time.Second, "a new leader", func() error {
		rs, err := raftStatus(c, h)
		if err != nil || rs.Leader == "" || rs.Leader == fstest.Name(l) {
			return fmt.Errorf("%s sees leader %v (%v)", fstest.Name(h), rs, err)
		}
		elected = time.Now()
		return nil
	})
	// Then the down-out takes the dead node out of Raft and the layout:
	// the loop must write after that too.
	waitRaft(t, c, downOut+20*time.Second, 2, fstest.Name(h), fstest.Name(s))
	out := time.Now()
	loop.waitOK(t, 30*time.Second, out, 5)
	iters, files := loop.finish()

	// A write may fail while there is no leader; once the survivors
	// know the new one (give them a second to act on it), every write
	// must succeed.
	writable := elected.Add(time.Second)
	var longest time.Duration
	var failed, late []iteration
	for _, it := range iters {
		longest = max(longest, it.end.Sub(it.start))
		if it.readErr != nil {
			t.Errorf("%s: close succeeded but the read-back failed: %v", it.name, it.readErr)
		}
		if it.err == nil {
			continue
		}
		failed = append(failed, it)
		switch {
		case it.end.Before(killed):
			t.Errorf("%s failed before the kill: %v", it.name, it.err)
		case !errors.Is(it.err, syscall.EIO):
			t.Errorf("%s failed with %v; want EIO", it.name, it.err)
		case it.start.After(writable):
			late = append(late, it)
		}
	}
	t.Logf("kill -9 of leader %s: new leader seen by %s after %v, layout without %s after %v; %d iterations, %d closed, longest iteration %v, longest time between two successful closes %v",
		fstest.Name(l), fstest.Name(h), elected.Sub(killed).Round(time.Millisecond), fstest.Name(l), out.Sub(killed).Round(time.Millisecond),
		len(iters), len(files), longest.Round(time.Millisecond), longestGap(iters).Round(time.Millisecond))
	if len(failed) > 0 {
		t.Logf("%d writes failed, from +%v to +%v after the kill; the first: %v", len(failed),
			failed[0].start.Sub(killed).Round(time.Millisecond), failed[len(failed)-1].end.Sub(killed).Round(time.Millisecond), failed[0].err)
	}
	if len(late) > 0 {
		t.Errorf("%d writes failed after the new leader was known (+%v), the last started at +%v "+
			"(chunk writes fail until the layout drops the dead node): %v",
			len(late), elected.Sub(killed).Round(time.Millisecond), late[len(late)-1].start.Sub(killed).Round(time.Millisecond), late[0].err)
	}
	for _, i := range []int{h, s} {
		files.verify(t, c.Nodes[i].Mountpoint)
	}

	c.Nodes[l].StartAgain(t)
	waitReplicated(t, c)
	files.verify(t, c.Nodes[l].Mountpoint)
}

// longestGap is the longest time between the ends of two successful
// iterations.
func longestGap(iters []iteration) time.Duration {
	var gap time.Duration
	var last time.Time
	for _, it := range iters {
		if it.err != nil {
			continue
		}
		if !last.IsZero() {
			gap = max(gap, it.end.Sub(last))
		}
		last = it.end
	}
	return gap
}

// writeSome writes, on each of the given hosts, an inline file, a
// one-chunk file and a three-chunk file, named after the host and tag.
func writeSome(t *testing.T, c *fstest.Cluster, files fileSet, tag string, on ...int) {
	t.Helper()
	for _, i := range on {
		for _, size := range []int{100, 1 << 20, 9<<20 + 4321} {
			name := fmt.Sprintf("%s-%s-%d", tag, fstest.Name(i), size)
			if err := files.write(c.Nodes[i].Mountpoint, name, size); err != nil {
				t.Fatalf("on %s: %v", fstest.Name(i), err)
			}
		}
	}
}

// TestReplNonLeaderKill kills a follower: everything written before is
// readable at once from the two others, metadata changes go on at once,
// and new files are written and read.
func TestReplNonLeaderKill(t *testing.T) {
	c, _ := replCluster(t)
	l := leader(t, c, 0)
	v := others(l)[0]
	o := others(v)
	files := fileSet{}
	writeSome(t, c, files, "before", 0, 1, 2)

	killed := time.Now()
	c.Nodes[v].Kill9(t)
	for _, i := range o {
		files.verify(t, c.Nodes[i].Mountpoint)
	}
	t.Logf("kill -9 of %s to every file read on both others: %v", fstest.Name(v), time.Since(killed).Round(time.Millisecond))
	for _, i := range o {
		name := "inline-" + fstest.Name(i)
		if err := files.write(c.Nodes[i].Mountpoint, name, 1000); err != nil {
			t.Errorf("a small file on %s right after the kill of %s: %v", fstest.Name(i), fstest.Name(v), err)
		}
	}

	// No election: a chunk write must work at once too.
	var fails []error
	fstest.Eventually(t, downOut+20*time.Second, "a 3-chunk write after the kill", func() error {
		err := files.write(c.Nodes[o[0]].Mountpoint, "after", 9<<20)
		if err != nil {
			fails = append(fails, err)
		}
		return err
	})
	t.Logf("kill -9 of %s to a successful 9 MiB write on %s: %v (%d writes failed before)",
		fstest.Name(v), fstest.Name(o[0]), time.Since(killed).Round(time.Millisecond), len(fails))
	if len(fails) > 0 {
		t.Errorf("%d writes of 9 MiB on %s failed after the kill of follower %s; the first: %v", len(fails), fstest.Name(o[0]), fstest.Name(v), fails[0])
	}
	waitRaft(t, c, downOut+20*time.Second, 2, fstest.Name(o[0]), fstest.Name(o[1]))
	writeSome(t, c, files, "later", o...)
	for _, i := range o {
		files.verify(t, c.Nodes[i].Mountpoint)
	}
}

// TestReplQuorumLoss kills two nodes of three: the survivor still serves
// reads, a create fails with EIO within the mutation timeout, and once
// both are back writes work again and nothing was lost.
func TestReplQuorumLoss(t *testing.T) {
	c, _ := replCluster(t)
	files := fileSet{}
	writeSome(t, c, files, "before", 0, 1, 2)
	const survivor = 1
	// The survivor must hold every change before the others die: without
	// a leader it serves its own copy. A directory read runs the read
	// barrier, which returns once it has applied what the leader had.
	if _, err := os.ReadDir(c.Nodes[survivor].Mountpoint); err != nil {
		t.Fatal(err)
	}
	c.Nodes[0].Kill9(t)
	c.Nodes[2].Kill9(t)
	mnt := c.Nodes[survivor].Mountpoint

	start := time.Now()
	files.verify(t, mnt)
	t.Logf("reads of %d files on the survivor: %v", len(files), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	err := os.WriteFile(filepath.Join(mnt, "lost"), []byte("no quorum"), 0o644)
	took := time.Since(start)
	t.Logf("create without a quorum: %v after %v", err, took.Round(time.Millisecond))
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("create without a quorum: %v; want EIO", err)
	}
	if limit := mutationTimeout + 5*time.Second; took > limit {
		t.Errorf("create without a quorum took %v to fail; want less than %v", took, limit)
	}

	c.Nodes[0].StartAgain(t)
	c.Nodes[2].StartAgain(t)
	waitReplicated(t, c)
	writeSome(t, c, files, "after", 0, 1, 2)
	for i := range 3 {
		files.verify(t, c.Nodes[i].Mountpoint)
		if _, err := os.Lstat(filepath.Join(c.Nodes[i].Mountpoint, "lost")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the create that failed with EIO, on %s: %v; want it absent", fstest.Name(i), err)
		}
	}
}

// TestReplCatchUpAndReplace stops a node while files are written and
// starts it again: it serves them. Then it dies for good and a fresh node
// takes its place in Raft and the layout, and reads every file.
func TestReplCatchUpAndReplace(t *testing.T) {
	c, _ := replCluster(t)
	files := fileSet{}
	writeSome(t, c, files, "before", 0, 1, 2)
	c.Nodes[2].Stop(t)
	if err := files.write(c.Nodes[0].Mountpoint, "right-after-stop", 9<<20); err != nil {
		t.Errorf("a 9 MiB write on n1 right after n3 stopped: %v", err)
	}
	// A node that left is out of Raft at once and out of the layout
	// after the down-out.
	waitRaft(t, c, downOut+20*time.Second, 2, "n1", "n2")
	writeSome(t, c, files, "while-n3-away", 0, 1)
	c.Nodes[2].StartAgain(t)
	waitReplicated(t, c)
	files.verify(t, c.Nodes[2].Mountpoint)

	var logged []int // how much each node had logged before the kill
	for _, d := range c.Nodes {
		logged = append(logged, len(d.Log()))
	}
	c.Nodes[2].Kill9(t)
	start := time.Now()
	c.AddNode(t)
	waitRaft(t, c, downOut+30*time.Second, 3, "n1", "n2", "n4")
	t.Logf("kill -9 of n3 and start of n4 to n4 in its place: %v", time.Since(start).Round(time.Millisecond))
	// A layout of n1, n2, n3 and n4 has three replicas too: the leader's
	// log says whether n3 left it.
	fstest.Eventually(t, 5*time.Second, "n3 taken out of the layout", func() error {
		for i, n := range logged[:2] {
			if hasLine(c.Nodes[i].Log()[n:], "taking a node out of the placement layout", "node=n3") {
				return nil
			}
		}
		return errors.New("neither n1 nor n2 logged it since the kill")
	})
	files.verify(t, c.Nodes[3].Mountpoint)
}

// TestReplBackendCopies: each chunk of a written file is an object in
// every node's bucket.
func TestReplBackendCopies(t *testing.T) {
	c, backends := replCluster(t)
	want := map[string]bool{} // the keys of the 4 MiB (default size) chunks
	for k := range 3 {
		b := randomFile(t, filepath.Join(c.Nodes[k].Mountpoint, fmt.Sprintf("f%d", k)), 10<<20)
		for off := 0; off < len(b); off += 4 << 20 {
			want[store.Sum(b[off:min(off+4<<20, len(b))]).Key()] = true
		}
	}
	if len(want) != 9 {
		t.Fatalf("%d distinct chunks in three files of 10 MiB; want 9", len(want))
	}
	endpoint, ak, sk := s3test.Server(t)
	client, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(ak, sk, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range backends {
		u, err := url.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		bucket := strings.TrimPrefix(u.Path, "/")
		have := map[string]bool{}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for oi := range client.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Prefix: "chunks/", Recursive: true}) {
			if oi.Err != nil {
				t.Fatalf("listing %s: %v", bucket, oi.Err)
			}
			have[oi.Key] = true
		}
		for key := range want {
			if !have[key] {
				t.Errorf("%s's bucket %s lacks %s", fstest.Name(i), bucket, key)
			}
		}
		t.Logf("%s's bucket holds %d chunk objects; %d written", fstest.Name(i), len(have), len(want))
	}
}

// TestReplPosix runs go-fuse's posixtest suite on a follower's mount (n2
// unless it leads), so that every change goes through the leader on
// another host.
func TestReplPosix(t *testing.T) {
	c, _ := replCluster(t)
	f := 1
	if leader(t, c, 0) == f {
		f = 2
	}
	fstest.RunPosix(t, c.Nodes[f].Mountpoint)
}
