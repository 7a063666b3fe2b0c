package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/s3test"
	"github.com/dfsproject/dfs/store/storetest"
)

func newS3(t *testing.T, cfg store.S3Config) *store.S3 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.NewS3(ctx, cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestS3Conformance(t *testing.T) {
	s3test.Server(t)
	storetest.Run(t, func(t *testing.T) store.Backend { return newS3(t, s3test.Config(t)) })
}

func TestS3ConformanceWithPrefix(t *testing.T) {
	s3test.Server(t)
	storetest.Run(t, func(t *testing.T) store.Backend {
		cfg := s3test.Config(t)
		cfg.Prefix = "node1/data"
		return newS3(t, cfg)
	})
}

// TestS3PrefixIsolation: objects outside the prefix are neither listed nor
// reachable.
func TestS3PrefixIsolation(t *testing.T) {
	cfg := s3test.Config(t)
	whole := newS3(t, cfg)
	cfg.Prefix = "p"
	inP := newS3(t, cfg)
	ctx := context.Background()
	for _, k := range []string{"p/a", "p/b/c", "pq/x", "q"} {
		if err := whole.Put(ctx, k, strings.NewReader(k), int64(len(k))); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := inP.List(ctx, "", func(oi store.ObjectInfo) error { got = append(got, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[a b/c]" {
		t.Fatalf("List under prefix p = %q, want [a b/c]", got)
	}
	if _, err := inP.Stat(ctx, "q"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Stat(q) under prefix: %v", err)
	}
	if info, err := inP.Stat(ctx, "b/c"); err != nil || info.Key != "b/c" {
		t.Fatalf("Stat(b/c) under prefix = %+v, %v", info, err)
	}
}

func TestS3RefusesUnreachable(t *testing.T) {
	start := time.Now()
	_, err := store.NewS3(context.Background(), store.S3Config{
		Endpoint: "127.0.0.1:1", Bucket: "bucket", AccessKey: "k", SecretKey: "topsecret",
	})
	if !errors.Is(err, store.ErrUnreachable) {
		t.Fatalf("NewS3 on 127.0.0.1:1 = %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing an unreachable endpoint took %v", d)
	}
	if strings.Contains(err.Error(), "topsecret") {
		t.Errorf("error shows the secret: %v", err)
	}
	t.Logf("error: %v", err)
}

func TestS3RefusesWrongSecret(t *testing.T) {
	cfg := s3test.Config(t)
	cfg.SecretKey = "wrong-secret-do-not-print"
	_, err := store.NewS3(context.Background(), cfg)
	if !errors.Is(err, store.ErrAuth) {
		t.Fatalf("NewS3 with a wrong secret = %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), cfg.SecretKey) {
		t.Errorf("error shows the secret: %v", err)
	}
	t.Logf("error: %v", err)

	cfg.AccessKey = "nosuchuser"
	if _, err := store.NewS3(context.Background(), cfg); !errors.Is(err, store.ErrAuth) {
		t.Fatalf("NewS3 with an unknown access key = %v, want ErrAuth", err)
	}
}

func TestS3MissingBucket(t *testing.T) {
	cfg := s3test.Config(t)
	cfg.Bucket += "-missing"
	_, err := store.NewS3(context.Background(), cfg)
	if !errors.Is(err, store.ErrBucketMissing) || !strings.Contains(err.Error(), "create=true") {
		t.Fatalf("NewS3 with a missing bucket = %v, want ErrBucketMissing suggesting create=true", err)
	}
	t.Logf("error: %v", err)

	cfg.CreateBucket = true
	s := newS3(t, cfg)
	ctx := context.Background()
	t.Cleanup(func() {
		s.List(ctx, "", func(oi store.ObjectInfo) error { return s.Delete(ctx, oi.Key) })
		removeBucketForTest(t, cfg)
	})
	if err := s.Put(ctx, "x", strings.NewReader("x"), 1); err != nil {
		t.Fatalf("Put into the created bucket: %v", err)
	}
	// Opening again with create=true finds the bucket there.
	newS3(t, cfg)
}

func TestS3SecretNotShown(t *testing.T) {
	cfg := store.S3Config{Endpoint: "h:1", Bucket: "bucket", AccessKey: "AKID", SecretKey: "s3cr3t-value"}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("cfg", "cfg", cfg)
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg), logs.String()} {
		if strings.Contains(s, cfg.SecretKey) {
			t.Errorf("secret shown: %s", s)
		}
	}
}

func TestS3ConfigValidate(t *testing.T) {
	ok := store.S3Config{Endpoint: "127.0.0.1:9000", Bucket: "my-bucket"}
	for _, tc := range []struct {
		name   string
		change func(*store.S3Config)
		ok     bool
	}{
		{"ok", func(*store.S3Config) {}, true},
		{"ok with keys and prefix", func(c *store.S3Config) { c.AccessKey, c.SecretKey, c.Prefix = "a", "b", "x/y/" }, true},
		{"no endpoint", func(c *store.S3Config) { c.Endpoint = "" }, false},
		{"endpoint with scheme", func(c *store.S3Config) { c.Endpoint = "http://h:1" }, false},
		{"endpoint with path", func(c *store.S3Config) { c.Endpoint = "h:1/x" }, false},
		{"no bucket", func(c *store.S3Config) { c.Bucket = "" }, false},
		{"bad bucket", func(c *store.S3Config) { c.Bucket = "Bad_Bucket" }, false},
		{"bad prefix", func(c *store.S3Config) { c.Prefix = "../x" }, false},
		{"only access key", func(c *store.S3Config) { c.AccessKey = "a" }, false},
		{"only secret", func(c *store.S3Config) { c.SecretKey = "s" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
	if _, err := store.NewS3(context.Background(), store.S3Config{}); err == nil {
		t.Fatal("NewS3 with an empty config: no error")
	}
}

// TestS3RefusesSilentEndpoint: an endpoint that accepts connections but
// never answers is refused within the start-up timeout, not minutes.
func TestS3RefusesSilentEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the start-up timeout")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	start := time.Now()
	_, err = store.NewS3(context.Background(), store.S3Config{Endpoint: ln.Addr().String(), Bucket: "bucket"})
	if !errors.Is(err, store.ErrUnreachable) {
		t.Fatalf("NewS3 on a silent endpoint = %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("refusing a silent endpoint took %v", d)
	}
	t.Logf("error after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

// TestS3BucketRemoved: a bucket removed under a running backend is reported
// as ErrBucketMissing, not as every object missing.
func TestS3BucketRemoved(t *testing.T) {
	cfg := s3test.Config(t)
	cfg.Bucket += "-gone"
	cfg.CreateBucket = true
	s := newS3(t, cfg)
	removeBucketForTest(t, cfg)
	ctx := context.Background()
	_, err := s.Stat(ctx, "x")
	if !errors.Is(err, store.ErrBucketMissing) || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Stat in a removed bucket = %v, want ErrBucketMissing only", err)
	}
	if err := s.Put(ctx, "x", strings.NewReader("x"), 1); !errors.Is(err, store.ErrBucketMissing) {
		t.Fatalf("Put in a removed bucket = %v", err)
	}
	if _, err := s.Get(ctx, "x", 0, -1); !errors.Is(err, store.ErrBucketMissing) {
		t.Fatalf("Get in a removed bucket = %v", err)
	}
	if err := s.List(ctx, "", func(store.ObjectInfo) error { return nil }); !errors.Is(err, store.ErrBucketMissing) {
		t.Fatalf("List in a removed bucket = %v", err)
	}
}
