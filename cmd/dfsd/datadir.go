package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/dfsproject/dfs/fs"
)

// dataLock holds an exclusive flock on DATA/LOCK for the life of dfsd, so
// two daemons never share one data directory. The kernel drops the lock
// when the process dies, even by kill -9.
type dataLock struct{ f *os.File }

func lockDataDir(dir string) (*dataLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create data directory %s: %v", dir, err)
	}
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open lock file %s: %v", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := io.ReadAll(io.LimitReader(f, 32))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(b))
			if pid == "" {
				pid = "unknown"
			}
			return nil, fmt.Errorf("data directory %s is in use by another dfsd (pid %s)", dir, pid)
		}
		return nil, fmt.Errorf("cannot lock data directory %s: %v", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dataLock{f: f}, nil
}

func (l *dataLock) release() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// format is DATA/format.json: the settings fixed when a filesystem is
// created, checked at every start.
type format struct {
	Version   int    `json:"version"`
	ChunkSize int64  `json:"chunk_size"`
	Backend   string `json:"backend"` // where the chunks are, without credentials
}

const formatVersion = 1

// loadOrCreateFormat reads DATA/format.json, or writes it for a new
// filesystem. A mismatch with what was asked is refused with a sentence.
func loadOrCreateFormat(dir string, want format, chunkSizeSet bool) (format, error) {
	path := filepath.Join(dir, "format.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		want.Version = formatVersion
		b, _ := json.MarshalIndent(want, "", "  ")
		tmp := path + ".tmp"
		if err := writeFileSync(tmp, append(b, '\n')); err != nil {
			return want, fmt.Errorf("cannot write %s: %v", path, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return want, fmt.Errorf("cannot write %s: %v", path, err)
		}
		return want, nil
	}
	if err != nil {
		return want, fmt.Errorf("cannot read %s: %v", path, err)
	}
	var have format
	if err := json.Unmarshal(b, &have); err != nil {
		return want, fmt.Errorf("%s is corrupt (%v); it records the filesystem's chunk size and backend", path, err)
	}
	if have.Version != formatVersion {
		return want, fmt.Errorf("%s has format version %d; this dfsd understands version %d", path, have.Version, formatVersion)
	}
	if chunkSizeSet && have.ChunkSize != want.ChunkSize {
		return want, fmt.Errorf("--chunk-size %s differs from the filesystem's chunk size %s (fixed when it was created)",
			formatBytes(want.ChunkSize), formatBytes(have.ChunkSize))
	}
	if have.Backend != want.Backend {
		return want, fmt.Errorf("the filesystem in %s keeps its chunks in %s, not %s", dir, have.Backend, want.Backend)
	}
	return have, nil
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkMountpoint refuses a mountpoint that is missing, not a directory,
// already mounted, or not empty.
func checkMountpoint(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("mountpoint %s: %v", dir, err)
	}
	mounted, err := fs.IsMounted(abs)
	if err != nil {
		return "", err
	}
	if mounted {
		return "", fmt.Errorf("mountpoint %s is already mounted (unmount it with: fusermount3 -u %s)", abs, abs)
	}
	st, err := os.Stat(abs)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("mountpoint %s does not exist (create it with: mkdir -p %s)", abs, abs)
	}
	if err != nil {
		return "", fmt.Errorf("mountpoint %s: %v", abs, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("mountpoint %s is not a directory", abs)
	}
	d, err := os.Open(abs)
	if err != nil {
		return "", fmt.Errorf("mountpoint %s: %v", abs, err)
	}
	defer d.Close()
	names, _ := d.Readdirnames(1)
	if len(names) > 0 {
		return "", fmt.Errorf("mountpoint %s is not empty", abs)
	}
	return abs, nil
}
