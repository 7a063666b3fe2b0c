package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/s3test"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// removeBucketForTest removes an (empty) bucket the test made itself.
func removeBucketForTest(t *testing.T, cfg store.S3Config) {
	endpoint, ak, sk := s3test.Server(t)
	c, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(ak, sk, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Log(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.RemoveBucket(ctx, cfg.Bucket); err != nil {
		t.Logf("removing bucket %s: %v", cfg.Bucket, err)
	}
}
