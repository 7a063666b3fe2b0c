//go:build ignore

// smallfiles creates, stats (with a cold cache) and deletes N files of 4 KiB
// in a directory and prints the rate of each phase, as BENCHMARKS.md's
// small-file workload. Run: go run testdata/bench/smallfiles.go -dir DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

func main() {
	dir := flag.String("dir", "", "directory to work in (a subdirectory is made)")
	n := flag.Int("n", 5000, "number of files")
	size := flag.Int("size", 4096, "file size")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "smallfiles: -dir is required")
		os.Exit(2)
	}
	root := filepath.Join(*dir, fmt.Sprintf("smallfiles-%d", os.Getpid()))
	must(os.Mkdir(root, 0o755))
	buf := make([]byte, *size)
	for i := range buf {
		buf[i] = byte(i * 31)
	}
	name := func(i int) string { return filepath.Join(root, fmt.Sprintf("f%06d", i)) }

	start := time.Now()
	for i := 0; i < *n; i++ {
		f, err := os.OpenFile(name(i), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		must(err)
		_, err = f.Write(buf)
		must(err)
		must(f.Close())
	}
	create := time.Since(start)

	dropCaches()
	start = time.Now()
	for i := 0; i < *n; i++ {
		_, err := os.Stat(name(i))
		must(err)
	}
	stat := time.Since(start)

	start = time.Now()
	for i := 0; i < *n; i++ {
		must(os.Remove(name(i)))
	}
	unlink := time.Since(start)
	must(os.Remove(root))
	rate := func(d time.Duration) float64 { return float64(*n) / d.Seconds() }
	fmt.Printf("create+write %.0f/s  cold stat %.0f/s  unlink %.0f/s\n", rate(create), rate(stat), rate(unlink))
}

func dropCaches() {
	exec := func() error {
		return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0)
	}
	if err := exec(); err != nil {
		fmt.Fprintln(os.Stderr, "smallfiles: cannot drop caches (stat is warm):", err)
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "smallfiles:", err)
		os.Exit(1)
	}
}
