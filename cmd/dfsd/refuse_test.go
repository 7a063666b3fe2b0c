package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dfsproject/dfs/fs/fstest"
	"github.com/dfsproject/dfs/store/s3test"
)

// dfsdRun runs the dfsd binary to completion (it must refuse quickly) and
// returns its exit status and stderr.
func dfsdRun(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(fstest.Binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out strings.Builder
	cmd.Stderr = &out
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("dfsd %q did not refuse within 60s; output:\n%s", args, out.String())
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

func TestRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the dfsd binary")
	}
	tmp := t.TempDir()
	empty := filepath.Join(tmp, "empty")
	full := filepath.Join(tmp, "full")
	os.Mkdir(empty, 0o755)
	os.MkdirAll(filepath.Join(full, "x"), 0o755)
	file := filepath.Join(tmp, "file")
	os.WriteFile(file, nil, 0o644)
	data := func() string { return t.TempDir() }

	cases := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"no data dir", nil, []string{"--mount", empty}, 2, "--data is required"},
		{"unknown flag", nil, []string{"--data", data(), "--frob"}, 2, "flag provided but not defined: -frob"},
		{"stray argument", nil, []string{"--data", data(), "extra"}, 2, `unexpected argument "extra"`},
		{"bad chunk size", nil, []string{"--data", data(), "--chunk-size", "3MiB"}, 2, "power of two"},
		{"bad size syntax", nil, []string{"--data", data(), "--mem-cache", "lots"}, 2, "is not a size"},
		{"bad repair concurrency", nil, []string{"--data", data(), "--repair-concurrency", "0"}, 2, "--repair-concurrency 0: must be from 1 to 256"},
		{"negative alert delay", nil, []string{"--data", data(), "--under-replicated-alert", "-1s"}, 2, "must not be negative"},
		{"bad log format", nil, []string{"--data", data(), "--log-format", "xml"}, 2, "must be text or json"},
		{"missing mountpoint", nil, []string{"--data", data(), "--mount", filepath.Join(tmp, "nope")}, 1, "does not exist"},
		{"mountpoint not a dir", nil, []string{"--data", data(), "--mount", file}, 1, "is not a directory"},
		{"mountpoint not empty", nil, []string{"--data", data(), "--mount", full}, 1, "is not empty"},
		{"bad backend scheme", nil, []string{"--data", data(), "--mount", empty, "--backend", "ftp://x/y"}, 1, "--backend"},
		{"relative dir backend", nil, []string{"--data", data(), "--mount", empty, "--backend", "dir://rel/path"}, 1, "--backend"},
		{"s3 without bucket", nil, []string{"--data", data(), "--mount", empty, "--backend", "s3://127.0.0.1:9000"}, 1, "bucket"},
		{"s3 unreachable", []string{"DFS_S3_ACCESS_KEY=a", "DFS_S3_SECRET_KEY=b"},
			[]string{"--data", data(), "--mount", empty, "--backend", "s3://127.0.0.1:1/bucket?tls=false"}, 1, "unreachable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := dfsdRun(t, tc.env, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("dfsd %q: exit %d, output:\n%s\nwant exit %d and %q", tc.args, code, out, tc.code, tc.want)
			}
			if lines := strings.Count(strings.TrimSpace(out), "\n"); tc.code == 1 && lines > 0 {
				t.Errorf("refusal should be one line, got:\n%s", out)
			}
		})
	}
}

func TestRefuseS3Credentials(t *testing.T) {
	cfg := s3test.Config(t)
	empty := t.TempDir()
	base := "s3://" + cfg.Endpoint + "/" + cfg.Bucket + "?tls=false"
	t.Run("wrong secret", func(t *testing.T) {
		env := []string{"DFS_S3_ACCESS_KEY=" + cfg.AccessKey, "DFS_S3_SECRET_KEY=wrong-secret"}
		code, out := dfsdRun(t, env, "--data", t.TempDir(), "--mount", empty, "--backend", base)
		if code != 1 || !strings.Contains(out, "credentials") || strings.Contains(out, "wrong-secret") {
			t.Fatalf("exit %d, output:\n%s\nwant exit 1 naming the credentials, without the secret", code, out)
		}
	})
	t.Run("missing bucket", func(t *testing.T) {
		env := []string{"DFS_S3_ACCESS_KEY=" + cfg.AccessKey, "DFS_S3_SECRET_KEY=" + cfg.SecretKey}
		url := "s3://" + cfg.Endpoint + "/no-such-bucket-dfs?tls=false"
		code, out := dfsdRun(t, env, "--data", t.TempDir(), "--mount", empty, "--backend", url)
		if code != 1 || !strings.Contains(out, "create=true") {
			t.Fatalf("exit %d, output:\n%s\nwant exit 1 suggesting create=true", code, out)
		}
	})
}

func TestRefuseBusy(t *testing.T) {
	d := fstest.Start(t, fstest.Options{})
	t.Run("data dir locked", func(t *testing.T) {
		code, out := dfsdRun(t, nil, "--data", d.DataDir, "--mount", t.TempDir())
		if code != 1 || !strings.Contains(out, "in use by another dfsd") {
			t.Fatalf("exit %d, output:\n%s", code, out)
		}
	})
	t.Run("already mounted", func(t *testing.T) {
		code, out := dfsdRun(t, nil, "--data", t.TempDir(), "--mount", d.Mountpoint)
		if code != 1 || !strings.Contains(out, "already mounted") {
			t.Fatalf("exit %d, output:\n%s", code, out)
		}
	})
	t.Run("chunk size changed", func(t *testing.T) {
		d.Stop(t)
		code, out := dfsdRun(t, nil, "--data", d.DataDir, "--mount", d.Mountpoint, "--chunk-size", "1MiB")
		if code != 1 || !strings.Contains(out, "differs from the filesystem's chunk size") {
			t.Fatalf("exit %d, output:\n%s", code, out)
		}
	})
}
