package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Environment variables read by Config.
const (
	EnvEndpoint  = "DFS_TEST_S3_ENDPOINT"
	EnvAccessKey = "DFS_TEST_S3_ACCESS_KEY"
	EnvSecretKey = "DFS_TEST_S3_SECRET_KEY"
	EnvRequire   = "DFS_REQUIRE_S3"
)

// Server returns the endpoint and credentials from the environment, or
// skips the test (fails it when DFS_REQUIRE_S3=1) when no server is set.
func Server(t testing.TB) (endpoint, accessKey, secretKey string) {
	t.Helper()
	endpoint = os.Getenv(EnvEndpoint)
	if endpoint == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(EnvEndpoint + " not set but " + EnvRequire + "=1: no MinIO server")
		}
		t.Skip(EnvEndpoint + " not set: no MinIO server")
	}
	return endpoint, os.Getenv(EnvAccessKey), os.Getenv(EnvSecretKey)
}

// Config returns the config of a new, empty bucket on the test server,
// removed with its objects when the test ends.
func Config(t testing.TB) store.S3Config {
	t.Helper()
	endpoint, ak, sk := Server(t)
	var rnd [8]byte
	rand.Read(rnd[:])
	cfg := store.S3Config{
		Endpoint:  endpoint,
		Bucket:    "dfs-test-" + hex.EncodeToString(rnd[:]),
		PathStyle: true,
		AccessKey: ak,
		SecretKey: sk,
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(ak, sk, ""),
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   2,
	})
	if err != nil {
		t.Fatalf("s3test: client for %s: %v", endpoint, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("s3test: creating bucket %s on %s: %v", cfg.Bucket, endpoint, err)
	}
	t.Cleanup(func() { removeBucket(t, client, cfg.Bucket) })
	return cfg
}

func removeBucket(t testing.TB, client *minio.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	objs := make(chan minio.ObjectInfo)
	go func() {
		defer close(objs)
		for oi := range client.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			if oi.Err != nil {
				t.Logf("s3test: listing bucket %s: %v", bucket, oi.Err)
				return
			}
			objs <- oi
		}
	}()
	for res := range client.RemoveObjectsWithResult(ctx, bucket, objs, minio.RemoveObjectsOptions{}) {
		if res.Err != nil {
			t.Logf("s3test: removing %s/%s: %v", bucket, res.ObjectName, res.Err)
		}
	}
	// Abandoned multipart uploads would keep the bucket from going.
	for u := range client.ListIncompleteUploads(ctx, bucket, "", true) {
		if u.Err == nil {
			client.RemoveIncompleteUpload(ctx, bucket, u.Key)
		}
	}
	if err := client.RemoveBucket(ctx, bucket); err != nil {
		t.Logf("s3test: removing bucket %s: %v", bucket, err)
	}
}

// URL returns a backend URL for a new, empty bucket on the test server:
// s3://KEY:SECRET@host:port/bucket?tls=false&path_style=true.
func URL(t testing.TB) string {
	t.Helper()
	cfg := Config(t)
	u := url.URL{Scheme: "s3", Host: cfg.Endpoint, Path: "/" + cfg.Bucket, RawQuery: "tls=false&path_style=true"}
	if cfg.AccessKey != "" {
		u.User = url.UserPassword(cfg.AccessKey, cfg.SecretKey)
	}
	return u.String()
}
