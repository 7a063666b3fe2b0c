package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tinyBench are the flags of a bench small enough for tests: 2 workers,
// each with 2 big files of 2 MiB and 20 small files of 4 KiB.
var tinyBench = []string{"--big-files", "2", "--big-file-size", "2MiB", "--small-files", "20", "--small-file-size", "4KiB", "-p", "2"}

var benchPhaseNames = []string{"write big", "read big", "write small", "read small", "stat small"}

// benchIn runs dfsctl bench with the tiny flags, extra and dir.
func benchIn(dir string, extra ...string) (int, string, string) {
	return dfsctl(append(append(append([]string{"bench"}, tinyBench...), extra...), dir)...)
}

// setHook sets benchPhaseHook until the end of the test.
func setHook(t *testing.T, hook func(ctx context.Context, root, phase string)) {
	t.Helper()
	benchPhaseHook = hook
	t.Cleanup(func() { benchPhaseHook = nil })
}

// mustBeEmpty fails the test unless dir has nothing in it.
func mustBeEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("%s still holds %v", dir, entries)
	}
}

// tableRows returns the rows of the results table by phase, split in
// columns of two or more spaces.
func tableRows(t *testing.T, out string) map[string][]string {
	t.Helper()
	rows := map[string][]string{}
	header := false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "PHASE ") {
			header = true
			continue
		}
		if !header || line == "" {
			header = header && line != ""
			continue
		}
		var cols []string
		for _, c := range strings.Split(line, "  ") {
			if c = strings.TrimSpace(c); c != "" {
				cols = append(cols, c)
			}
		}
		rows[cols[0]] = cols
	}
	return rows
}

// leadingNumber is the number a cell starts with: 12.5 of "12.5 MiB/s".
func leadingNumber(t *testing.T, cell string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.Fields(cell)[0], "s"), 64)
	if err != nil {
		t.Fatalf("cell %q does not start with a number: %v", cell, err)
	}
	return f
}

func TestBenchTable(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := benchIn(dir)
	if code != exitOK {
		t.Fatalf("bench: exit %d, stderr %q", code, errOut)
	}
	mustContain(t, "bench output", out,
		"dfsctl bench in "+dir, "2 workers, each with 2 big files of 2 MiB (1 MiB blocks) and 20 small files of 4 KiB",
		"without fsync", "(no --drop-caches)", "Latency: of one 1 MiB write or read")
	mustContain(t, "bench stderr", errOut, "dfsctl bench: working in "+filepath.Join(dir, "dfsctl-bench-"),
		"write big: 8 blocks by 2 workers", "stat small: 40 files by 2 workers")
	rows := tableRows(t, out)
	if got := slices.Sorted(maps.Keys(rows)); !slices.Equal(got, slices.Sorted(slices.Values(benchPhaseNames))) {
		t.Fatalf("table rows %q, want the phases %q:\n%s", got, benchPhaseNames, out)
	}
	for _, name := range benchPhaseNames {
		row := rows[name]
		if len(row) != 6 {
			t.Errorf("%s: %d columns %q, want 6", name, len(row), row)
			continue
		}
		wantOps, unit := "40 files", " files/s"
		if strings.HasSuffix(name, "big") {
			wantOps, unit = "8 blocks", " MiB/s"
		}
		if row[1] != wantOps || !strings.HasSuffix(row[3], unit) {
			t.Errorf("%s: ops %q, throughput %q; want %q and %q", name, row[1], row[3], wantOps, unit)
		}
		for i, col := range []string{"time", "throughput", "average latency", "p99 latency"} {
			if v := leadingNumber(t, row[i+2]); v <= 0 {
				t.Errorf("%s: %s is %q", name, col, row[i+2])
			}
		}
	}
	mustBeEmpty(t, dir)
}

func TestBenchJSON(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := benchIn(dir, "--json")
	if code != exitOK {
		t.Fatalf("bench --json: exit %d, stderr %q", code, errOut)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	wantKeys := []string{"big_file_size", "big_files", "block_size", "dir", "drop_caches", "fs_type", "phases",
		"small_file_size", "small_files", "workers"}
	if got := slices.Sorted(maps.Keys(raw)); !slices.Equal(got, wantKeys) {
		t.Errorf("keys %q, want %q", got, wantKeys)
	}
	phase := raw["phases"].([]any)[0].(map[string]any)
	wantKeys = []string{"avg_latency_ms", "bytes", "mib_per_second", "ops", "ops_per_second", "p99_latency_ms", "phase", "seconds", "unit"}
	if got := slices.Sorted(maps.Keys(phase)); !slices.Equal(got, wantKeys) {
		t.Errorf("phase keys %q, want %q", got, wantKeys)
	}

	var r benchReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Dir != dir || r.FSType == "" || r.FSType == "unknown" || r.Workers != 2 || r.BigFiles != 2 || r.BigFileSize != 2<<20 ||
		r.BlockSize != 1<<20 || r.SmallFiles != 20 || r.SmallFileSize != 4<<10 || r.DropCaches {
		t.Errorf("configuration %+v", r)
	}
	var names []string
	for _, p := range r.Phases {
		names = append(names, p.Phase)
		wantOps, wantBytes, wantUnit := int64(40), int64(40*4<<10), "file"
		switch {
		case strings.HasSuffix(p.Phase, "big"):
			wantOps, wantBytes, wantUnit = 8, 8<<20, "block"
		case p.Phase == "stat small":
			wantBytes = 0
		}
		if p.Ops != wantOps || p.Bytes != wantBytes || p.Unit != wantUnit {
			t.Errorf("%s: %d %ss, %d bytes; want %d %ss, %d bytes", p.Phase, p.Ops, p.Unit, p.Bytes, wantOps, wantUnit, wantBytes)
		}
		if p.Seconds <= 0 || p.OpsPerSecond <= 0 || p.AvgLatencyMs <= 0 || p.P99LatencyMs < p.AvgLatencyMs ||
			(p.MiBPerSecond <= 0) != (wantBytes == 0) {
			t.Errorf("%s: figures %+v", p.Phase, p)
		}
		if got, want := p.OpsPerSecond*p.Seconds, float64(p.Ops); got < want*0.999 || got > want*1.001 {
			t.Errorf("%s: %f ops/s over %fs is %f ops, not %d", p.Phase, p.OpsPerSecond, p.Seconds, got, p.Ops)
		}
	}
	if !slices.Equal(names, benchPhaseNames) {
		t.Errorf("phases %q, want %q", names, benchPhaseNames)
	}
	mustBeEmpty(t, dir)
}

func TestBenchKeep(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut}
	// runBench takes its flags and DIR, as the run of the command table.
	if code := runBench(e, append(append([]string{"--keep"}, tinyBench...), dir)); code != exitOK {
		t.Fatalf("bench --keep: exit %d, stderr %q", code, errOut.String())
	}
	roots, _ := filepath.Glob(filepath.Join(dir, "dfsctl-bench-*"))
	if len(roots) != 1 {
		t.Fatalf("after bench --keep, %s holds %q, want one dfsctl-bench-* directory", dir, roots)
	}
	mustContain(t, "stderr", errOut.String(), "dfsctl bench: kept "+roots[0])
	for w := range 2 {
		for i := range 2 {
			mustHaveSize(t, filepath.Join(roots[0], fmt.Sprintf("w%d/big.%d", w, i)), 2<<20)
		}
		for i := range 20 {
			mustHaveSize(t, filepath.Join(roots[0], fmt.Sprintf("w%d/small.%06d", w, i)), 4<<10)
		}
	}
	// No two blocks alike: dfs cannot deduplicate them.
	seen := map[string]string{}
	for _, path := range []string{"w0/big.0", "w0/big.1", "w1/big.0"} {
		b, err := os.ReadFile(filepath.Join(roots[0], path))
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(b); off += 1 << 20 {
			block := string(b[off : off+1<<20])
			if other, ok := seen[block]; ok {
				t.Errorf("the block at %d of %s is the same as %s", off, path, other)
			}
			seen[block] = fmt.Sprintf("%s at %d", path, off)
		}
	}
}

func mustHaveSize(t *testing.T, path string, size int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
	} else if fi.Size() != size {
		t.Errorf("%s has %d bytes, want %d", path, fi.Size(), size)
	}
}

func TestBenchHelp(t *testing.T) {
	code, out, errOut := dfsctl("bench", "--help")
	if code != exitOK || errOut != "" || !strings.HasPrefix(out, "Usage: dfsctl bench [FLAGS] DIR\n") {
		t.Fatalf("bench --help: exit %d, stderr %q\n%s", code, errOut, out)
	}
	// Every flag is in the help, with its default.
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	setupBench(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "h" || f.Name == "help" {
			return
		}
		dashes := "--"
		if len(f.Name) == 1 {
			dashes = "-"
		}
		if !strings.Contains(out, "\n  "+dashes+f.Name+" ") {
			t.Errorf("bench --help does not describe %s%s", dashes, f.Name)
		}
		if f.DefValue != "false" && !strings.Contains(out, "(default "+f.DefValue+")") {
			t.Errorf("bench --help does not give the default of %s%s, %s", dashes, f.Name, f.DefValue)
		}
	})
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 80 {
			t.Errorf("line longer than 80 characters: %q", line)
		}
	}
	if code, out2, _ := dfsctl("bench", "-h"); code != exitOK || out2 != out {
		t.Errorf("bench -h: exit %d, not the same help", code)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "bench needs a directory to work in"},
		{[]string{work, work}, "bench takes one directory, not 2 arguments"},
		{[]string{work, "--keep"}, "bench takes one directory, not 2 arguments (its flags go before DIR)"},
		{[]string{"--big-file-size", "1X", work}, `--big-file-size must be a size such as 128KiB, 4MiB or 1GiB, not "1X"`},
		{[]string{"--small-file-size", "-4KiB", work}, "--small-file-size must be a size"},
		{[]string{"--small-file-size", "0", work}, "--small-file-size must be from 1 B to 1 TiB, not 0"},
		{[]string{"--big-file-size", "2TiB", work}, "--big-file-size must be from 1 B to 1 TiB, not 2TiB"},
		{[]string{"--block-size", "512", work}, "--block-size must be from 1 KiB to 64 MiB, not 512"},
		{[]string{"--block-size", "128MiB", work}, "--block-size must be from 1 KiB to 64 MiB, not 128MiB"},
		{[]string{"-p", "0", work}, "-p must be from 1 to 64, not 0"},
		{[]string{"-p", "65", work}, "-p must be from 1 to 64, not 65"},
		{[]string{"--big-files", "-1", work}, "--big-files must be from 0 to 1000000, not -1"},
		{[]string{"--small-files", "1000001", work}, "--small-files must be from 0 to 1000000, not 1000001"},
		{[]string{"--big-files", "0", "--small-files", "0", work}, "--big-files and --small-files are both 0: there is nothing to measure"},
		{[]string{"--big-file-size", "1TiB", "--block-size", "1KiB", work}, "the big files make 1073741824 blocks in all"},
		{[]string{"--big-files", "x", work}, `invalid value "x" for flag -big-files`},
		{[]string{filepath.Join(dir, "missing")}, filepath.Join(dir, "missing") + " does not exist"},
		{[]string{file}, file + " is not a directory"},
	} {
		code, out, errOut := dfsctl(append([]string{"bench"}, tc.args...)...)
		if code != exitError || out != "" || !strings.HasPrefix(errOut, "dfsctl: ") || !strings.Contains(errOut, tc.want) {
			t.Errorf("bench %q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
	mustBeEmpty(t, work)
}

func TestBenchDropCaches(t *testing.T) {
	// Not the real file: that would drop the caches of the whole machine.
	fake := filepath.Join(t.TempDir(), "drop_caches")
	defer func(old string) { dropCachesFile = old }(dropCachesFile)
	dropCachesFile = fake

	dir := t.TempDir()
	code, _, errOut := benchIn(dir, "--drop-caches")
	if code != exitError || !strings.Contains(errOut, "--drop-caches needs to write to "+fake+", which only root may do") {
		t.Fatalf("--drop-caches without the file: exit %d, stderr %q", code, errOut)
	}

	if err := os.WriteFile(fake, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var dropped []string
	setHook(t, func(_ context.Context, _, phase string) {
		b, err := os.ReadFile(fake)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) == "3\n" {
			dropped = append(dropped, phase)
		} else if len(b) != 0 {
			t.Errorf("before %s, %s holds %q", phase, fake, b)
		}
		if err := os.Truncate(fake, 0); err != nil {
			t.Fatal(err)
		}
	})
	code, out, errOut := benchIn(dir, "--drop-caches")
	if code != exitOK {
		t.Fatalf("bench --drop-caches: exit %d, stderr %q", code, errOut)
	}
	if want := []string{"read big", "read small", "stat small"}; !slices.Equal(dropped, want) {
		t.Errorf("caches dropped before %q, want %q", dropped, want)
	}
	mustContain(t, "output", out, "caches dropped before each read and stat phase")
	mustBeEmpty(t, dir)
}

func TestBenchInterrupted(t *testing.T) {
	dir := t.TempDir()
	setHook(t, func(ctx context.Context, _, phase string) {
		if phase != "read small" {
			return
		}
		// As Ctrl-C does; wait until the bench has seen it.
		if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Error("SIGINT did not stop the bench within 10s")
		}
	})
	code, out, errOut := benchIn(dir)
	want := "dfsctl: bench interrupted in read small (removed " + filepath.Join(dir, "dfsctl-bench-")
	if code != exitBenchFailed || !strings.HasPrefix(lastLine(errOut), want) {
		t.Fatalf("bench with SIGINT: exit %d, stderr %q; want 1 and %q", code, errOut, want)
	}
	// The phases done are printed.
	rows := tableRows(t, out)
	if got := slices.Sorted(maps.Keys(rows)); !slices.Equal(got, []string{"read big", "write big", "write small"}) {
		t.Errorf("interrupted at read small, the table has %q:\n%s", got, out)
	}
	mustBeEmpty(t, dir)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestBenchIOErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		phase  string
		damage func(root string) error
		want   string
	}{
		{"removed", "read big", func(root string) error { return os.Remove(filepath.Join(root, "w1/big.1")) },
			"read big failed: open %s/w1/big.1: no such file or directory"},
		{"other block", "read big", func(root string) error {
			f, err := os.OpenFile(filepath.Join(root, "w0/big.1"), os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt(make([]byte, 16), 1<<20)
			return err
		}, "read big failed: %s/w0/big.1: the block at offset 1048576 is not the one written there"},
		{"short", "read small", func(root string) error { return os.Truncate(filepath.Join(root, "w0/small.000007"), 100) },
			"read small failed: %s/w0/small.000007: 100 bytes instead of 4096"},
		{"long", "read small", func(root string) error { return os.Truncate(filepath.Join(root, "w1/small.000003"), 5000) },
			"read small failed: %s/w1/small.000003: more than the 4096 bytes written"},
		{"stat size", "stat small", func(root string) error { return os.Truncate(filepath.Join(root, "w1/small.000019"), 1) },
			"stat small failed: %s/w1/small.000019: stat says 1 bytes instead of 4096"},
		{"not a directory", "write small", func(root string) error {
			if err := os.RemoveAll(filepath.Join(root, "w1")); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(root, "w1"), nil, 0o644)
		}, "write small failed: open %s/w1/small.000000: not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var root string
			setHook(t, func(_ context.Context, r, phase string) {
				if phase == tc.phase {
					root = r
					if err := tc.damage(r); err != nil {
						t.Fatal(err)
					}
				}
			})
			code, _, errOut := benchIn(dir)
			want := "dfsctl: " + fmt.Sprintf(tc.want, root) + " (removed " + root + ")"
			if code != exitBenchFailed || lastLine(errOut) != want {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut, want)
			}
			mustBeEmpty(t, dir)
		})
	}
}

func TestBenchNoSpace(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Blocks == 0 {
		t.Skipf("statfs %s: %v, %d blocks", dir, err, st.Blocks)
	}
	if avail := st.Bavail * uint64(st.Frsize); avail >= 1<<40 {
		t.Skipf("%s has %d bytes available, more than the bench could ask for", dir, avail)
	}
	code, out, errOut := dfsctl("bench", "--big-file-size", "1TiB", "--block-size", "64MiB", dir)
	if want := "dfsctl: the bench writes 1 TiB but " + dir + " has "; code != exitBenchFailed || out != "" || !strings.HasPrefix(errOut, want) {
		t.Errorf("bench of 1 TiB: exit %d, stdout %q, stderr %q; want 1 and %q", code, out, errOut, want)
	}
	mustBeEmpty(t, dir)
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"4096", 4096, true},
		{"128KiB", 128 << 10, true},
		{"128K", 128 << 10, true},
		{"4MiB", 4 << 20, true},
		{" 1GiB ", 1 << 30, true},
		{"2T", 2 << 40, true},
		{"10B", 10, true},
		{"0", 0, true},
		{"1.5GiB", 0, false},
		{"4MB", 0, false},
		{"-1", 0, false},
		{"MiB", 0, false},
		{"", 0, false},
		{"9999999TiB", 0, false},
	} {
		got, ok := parseSize(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseSize(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	for _, n := range []int64{1, 1000, 1 << 10, 128 << 10, 1 << 20, 1 << 30, 3 << 40, 1<<20 + 1} {
		if got, ok := parseSize(formatSize(n)); !ok || got != n {
			t.Errorf("parseSize(formatSize(%d) = %q) = %d, %v", n, formatSize(n), got, ok)
		}
	}
}

func TestPhaseResult(t *testing.T) {
	lat := make([]time.Duration, 0, 200)
	for i := 200; i >= 1; i-- { // 1 ms to 200 ms, unsorted
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	ph := benchPhase{name: "read big", unit: "block", ops: 100, bytes: 100 << 20}
	r := phaseResult(ph, 2, 4*time.Second, lat)
	want := benchResult{Phase: "read big", Unit: "block", Ops: 200, Bytes: 200 << 20, Seconds: 4,
		OpsPerSecond: 50, MiBPerSecond: 50, AvgLatencyMs: 100.5, P99LatencyMs: 198}
	if r != want {
		t.Errorf("phaseResult = %+v, want %+v", r, want)
	}
	for _, tc := range []struct {
		n, p int
		want time.Duration
	}{{1, 99, 1}, {8, 99, 8}, {100, 99, 99}, {101, 99, 100}, {1000, 99, 990}, {10, 50, 5}} {
		sorted := make([]time.Duration, tc.n)
		for i := range sorted {
			sorted[i] = time.Duration(i + 1)
		}
		if got := percentile(sorted, tc.p); got != tc.want {
			t.Errorf("percentile(1..%d, %d) = %d, want %d", tc.n, tc.p, got, tc.want)
		}
	}
}

func TestMountFSType(t *testing.T) {
	const mountinfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:25 / /tmp rw,nosuid shared:5 - tmpfs tmpfs rw
31 22 0:26 / /mnt/dfs rw,nosuid,nodev,relatime shared:6 - fuse.dfs dfs rw,user_id=0,group_id=0
32 22 0:27 / /mnt/my\040disk rw shared:7 - xfs /dev/sdb1 rw
33 30 0:28 / /tmp rw shared:8 - overlay overlay rw
garbage line
`
	for _, tc := range []struct{ path, want string }{
		{"/", "ext4"},
		{"/home/me", "ext4"},
		{"/tmp/x", "overlay"}, // mounted over the tmpfs
		{"/tmpx", "ext4"},
		{"/mnt/dfs", "fuse.dfs"},
		{"/mnt/dfs/a/b", "fuse.dfs"},
		{"/mnt/my disk/x", "xfs"},
	} {
		if got := mountFSType(strings.NewReader(mountinfo), tc.path); got != tc.want {
			t.Errorf("type of %s: %q, want %q", tc.path, got, tc.want)
		}
	}
	if got := mountFSType(strings.NewReader(""), "/x"); got != "unknown" {
		t.Errorf("type with no mounts: %q", got)
	}
}

func TestProgressBar(t *testing.T) {
	for _, tc := range []struct {
		name, unit  string
		opBytes     int64
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{"write big", "block", 1 << 20, 0, 1024, 0, "write big    [........................]   0%  0/1024 blocks"},
		{"write big", "block", 1 << 20, 512, 1024, 2 * time.Second, "write big    [############............]  50%  512/1024 blocks  256 MiB/s"},
		{"stat small", "file", 0, 200, 200, time.Second, "stat small   [########################] 100%  200/200 files  200 files/s"},
	} {
		if got := progressBar(tc.name, tc.unit, tc.opBytes, tc.done, tc.total, tc.elapsed); got != tc.want {
			t.Errorf("progressBar(%d of %d) =\n%q, want\n%q", tc.done, tc.total, got, tc.want)
		}
	}
}

func TestFormatDurations(t *testing.T) {
	for _, tc := range []struct {
		ms   float64
		want string
	}{{0.0042, "0.0042 ms"}, {0.172, "0.172 ms"}, {4.567, "4.57 ms"}, {42.13, "42.1 ms"}, {1234.5, "1234 ms"}} {
		if got := fmtMs(tc.ms); got != tc.want {
			t.Errorf("fmtMs(%v) = %q, want %q", tc.ms, got, tc.want)
		}
	}
	for _, tc := range []struct {
		s    float64
		want string
	}{{0.000172, "0.172 ms"}, {0.5, "500 ms"}, {1.523, "1.52s"}, {73.14, "73.1s"}} {
		if got := fmtSeconds(tc.s); got != tc.want {
			t.Errorf("fmtSeconds(%v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}
