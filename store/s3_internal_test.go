package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestS3Translate(t *testing.T) {
	s := &S3{cfg: S3Config{Endpoint: "h:1", Bucket: "b"}}
	ctx := context.Background()
	for _, tc := range []struct {
		err  error
		want error
	}{
		{minio.ErrorResponse{Code: "NoSuchKey", StatusCode: 404}, ErrNotFound},
		{minio.ErrorResponse{Code: "NoSuchBucket", StatusCode: 404}, ErrBucketMissing},
		{minio.ErrorResponse{Code: "XMinioStorageFull", StatusCode: 507}, ErrNoSpace},
		{minio.ErrorResponse{Code: "XMinioAdminBucketQuotaExceeded"}, ErrNoSpace},
		{minio.ErrorResponse{Code: "EntityTooLarge"}, ErrNoSpace},
		{minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403}, ErrAuth},
		{minio.ErrorResponse{Code: "InvalidAccessKeyId"}, ErrAuth},
		{minio.ErrorResponse{Code: "SignatureDoesNotMatch"}, ErrAuth},
		{fmt.Errorf("wrapped: %w", minio.ErrorResponse{Code: "NoSuchKey"}), ErrNotFound},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, ErrUnreachable},
	} {
		if got := s.translate(ctx, tc.err); !errors.Is(got, tc.want) {
			t.Errorf("translate(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	other := s.translate(ctx, minio.ErrorResponse{Code: "SlowDown", Message: "slow down", StatusCode: 503})
	for _, sentinel := range []error{ErrNotFound, ErrNoSpace, ErrAuth, ErrUnreachable, ErrBucketMissing} {
		if errors.Is(other, sentinel) {
			t.Errorf("SlowDown translated to %v", sentinel)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if got := s.translate(cctx, errors.New("whatever")); !errors.Is(got, context.Canceled) {
		t.Errorf("translate with a cancelled ctx = %v", got)
	}
}
