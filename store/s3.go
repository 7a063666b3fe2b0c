package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// S3Config says where an S3 backend keeps its objects and how to reach it.
// Its String and LogValue hide the secret key.
type S3Config struct {
	// Endpoint is host[:port] of the S3 service, without scheme or path.
	Endpoint string
	// Bucket holds the objects.
	Bucket string
	// Prefix is put in front of every key; NewS3 adds a trailing "/" when
	// it is missing, so "dfs" stores key k as "dfs/k".
	Prefix string
	// Region of the bucket; empty lets the client ask the service.
	Region string
	// Secure selects https.
	Secure bool
	// PathStyle forces path-style requests (host/bucket/key), which MinIO
	// and most self-hosted services want; false lets the client choose.
	PathStyle bool
	// AccessKey and SecretKey are the credentials; both empty means
	// anonymous access.
	AccessKey string
	SecretKey string
	// CreateBucket makes NewS3 create a missing bucket instead of refusing.
	CreateBucket bool
	// Logger receives the backend's logs; nil discards them.
	Logger *slog.Logger
}

var errOnlyOneKey = errors.New("s3: give both the access key and the secret key, or neither")

// s3MaxKey is the longest S3 object name (prefix and key).
const s3MaxKey = 1024

// s3StartTimeout bounds the checks NewS3 makes before it returns.
const s3StartTimeout = 5 * time.Second

// s3BufferLimit: a Put of at most this many bytes from a reader that is not
// already in memory is buffered first, so that its size is checked before
// anything is sent and the upload can be retried.
const s3BufferLimit = 16 << 20

// Validate checks the config without contacting the service.
func (c S3Config) Validate() error {
	switch {
	case c.Endpoint == "":
		return errors.New("s3: no endpoint given (host:port)")
	case strings.Contains(c.Endpoint, "://"):
		return fmt.Errorf("s3: endpoint %q must be host[:port] without a scheme (set Secure for https)", c.Endpoint)
	case strings.ContainsAny(c.Endpoint, "/?#@ "):
		return fmt.Errorf("s3: endpoint %q must be host[:port] without path, query or credentials", c.Endpoint)
	case c.Bucket == "":
		return errors.New("s3: no bucket given")
	}
	if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		return fmt.Errorf("s3: bucket %q: %v", c.Bucket, err)
	}
	if p := strings.TrimSuffix(c.Prefix, "/"); p != "" {
		if err := ValidateKey(p); err != nil {
			return fmt.Errorf("s3: prefix %q: %w", c.Prefix, err)
		}
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return errOnlyOneKey
	}
	return nil
}

// String describes the config without the secret key.
func (c S3Config) String() string {
	scheme := "http"
	if c.Secure {
		scheme = "https"
	}
	s := fmt.Sprintf("s3 %s://%s/%s", scheme, c.Endpoint, c.Bucket)
	if c.Prefix != "" {
		s += "/" + strings.TrimSuffix(c.Prefix, "/")
	}
	if c.AccessKey != "" {
		s += " (access key " + c.AccessKey + ")"
	}
	return s
}

// GoString hides the secret from %#v.
func (c S3Config) GoString() string { return "store.S3Config{" + c.String() + "}" }

// LogValue hides the secret from slog.
func (c S3Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// S3 is a Backend on an S3 bucket (AWS, MinIO, or any S3-compatible
// service) through minio-go. Key k is stored as object Prefix+k.
type S3 struct {
	cfg       S3Config
	client    *minio.Client
	core      minio.Core // the same client, for its eager GetObject
	transport *http.Transport
	log       *slog.Logger
	closed    atomic.Bool
}

var _ Backend = (*S3)(nil)

// NewS3 connects to the service and checks, within a few seconds, that it
// answers, accepts the credentials and has the bucket (creating it when
// cfg.CreateBucket is set). It refuses with an error wrapping ErrUnreachable,
// ErrAuth or ErrBucketMissing otherwise.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	tr, err := minio.DefaultTransport(cfg.Secure)
	if err != nil {
		return nil, fmt.Errorf("s3 %s: %v", cfg.Endpoint, err)
	}
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	opts := func(retries int) *minio.Options {
		o := &minio.Options{
			// Empty keys make minio-go sign nothing (anonymous access).
			Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
			Secure:     cfg.Secure,
			Transport:  tr,
			Region:     cfg.Region,
			MaxRetries: retries,
		}
		if cfg.PathStyle {
			o.BucketLookup = minio.BucketLookupPath
		}
		return o
	}
	client, err := minio.New(cfg.Endpoint, opts(0))
	if err != nil {
		return nil, fmt.Errorf("s3 %s: %v", cfg.Endpoint, err)
	}
	s := &S3{cfg: cfg, client: client, core: minio.Core{Client: client}, transport: tr, log: discardIfNil(cfg.Logger).With("backend", "s3", "bucket", cfg.Bucket)}

	// The start-up check uses a client that does not retry, so that a
	// refusal comes at once, and a short deadline for a silent endpoint.
	probe, err := minio.New(cfg.Endpoint, opts(1))
	if err != nil {
		return nil, fmt.Errorf("s3 %s: %v", cfg.Endpoint, err)
	}
	if err := s.check(ctx, probe); err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	s.log.Info("s3 backend ready", "endpoint", cfg.Endpoint, "prefix", cfg.Prefix, "secure", cfg.Secure)
	return s, nil
}

func (s *S3) check(ctx context.Context, probe *minio.Client) error {
	cfg := s.cfg
	ctx, cancel := context.WithTimeout(ctx, s3StartTimeout)
	defer cancel()
	where := fmt.Sprintf("S3 endpoint %s", cfg.Endpoint)
	exists, err := probe.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return s.startErr(ctx, where, err)
	}
	if exists {
		return nil
	}
	if !cfg.CreateBucket {
		return fmt.Errorf("%w: %s has no bucket %q; create it, or add create=true to the backend URL to let dfsd create it",
			ErrBucketMissing, where, cfg.Bucket)
	}
	err = probe.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
	if err != nil {
		code := minio.ToErrorResponse(errorResponse(err)).Code
		if code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
			return fmt.Errorf("creating bucket %q: %w", cfg.Bucket, s.startErr(ctx, where, err))
		}
	}
	s.log.Info("created s3 bucket", "endpoint", cfg.Endpoint)
	return nil
}

// startErr turns an error of the start-up check into a sentence.
func (s *S3) startErr(ctx context.Context, where string, err error) error {
	if er, ok := asErrorResponse(err); ok && authCode(er.Code) {
		return fmt.Errorf("%w: %s refused access to bucket %q with access key %q (%s); check the credentials (URL, --s3-access-key/--s3-secret-key or DFS_S3_ACCESS_KEY/DFS_S3_SECRET_KEY)",
			ErrAuth, where, s.cfg.Bucket, s.cfg.AccessKey, er.Code)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%s: %w", where, ctx.Err())
	}
	if ctx.Err() != nil || isNetErr(err) {
		var oe *net.OpError // "dial tcp h:p: connect: connection refused" says it best
		if errors.As(err, &oe) {
			err = oe
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer within %v", s3StartTimeout)
		}
		return fmt.Errorf("%w: %s does not answer: %v", ErrUnreachable, where, err)
	}
	return fmt.Errorf("%s: checking bucket %q: %w", where, s.cfg.Bucket, s.translate(ctx, err))
}

// String describes the backend without the secret.
func (s *S3) String() string { return s.cfg.String() }

// Config returns the backend's config (with the prefix as used).
func (s *S3) Config() S3Config { return s.cfg }

func (s *S3) object(key string) string { return s.cfg.Prefix + key }

func (s *S3) checkKey(ctx context.Context, op, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if len(s.cfg.Prefix)+len(key) > s3MaxKey {
		return fmt.Errorf("%s: %w: %q: with the prefix %q it is longer than the %d bytes of an S3 object name",
			op, ErrInvalidKey, key, s.cfg.Prefix, s3MaxKey)
	}
	if s.closed.Load() {
		return fmt.Errorf("%s %s: %w", op, key, ErrClosed)
	}
	return nil
}

// errorResponse returns the minio.ErrorResponse inside err, or err.
func errorResponse(err error) error {
	if er, ok := asErrorResponse(err); ok {
		return er
	}
	return err
}

func asErrorResponse(err error) (minio.ErrorResponse, bool) {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er, true
	}
	var per *minio.ErrorResponse
	if errors.As(err, &per) && per != nil {
		return *per, true
	}
	return er, false
}

func authCode(code string) bool {
	switch code {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
		"InvalidToken", "InvalidClientTokenId", "AuthorizationHeaderMalformed", "AllAccessDisabled":
		return true
	}
	return false
}

func noSpaceCode(code string) bool {
	switch code {
	case "XMinioStorageFull", "XMinioAdminBucketQuotaExceeded", "QuotaExceeded", "EntityTooLarge",
		"XAmzContentSHA256Mismatch_StorageFull", "InsufficientStorage":
		return true
	}
	return false
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}

// translate maps a minio-go error to the store's errors, once, here. The
// result wraps the sentinel and keeps the service's message.
func (s *S3) translate(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if er, ok := asErrorResponse(err); ok {
		switch {
		case er.Code == "NoSuchKey" || er.Code == "NotFound":
			return ErrNotFound
		case er.Code == "NoSuchBucket":
			// Not ErrNotFound: a bucket gone is an outage, not proof that
			// every chunk in it is missing (repair and GC act on that).
			return fmt.Errorf("%w: %q", ErrBucketMissing, s.cfg.Bucket)
		case noSpaceCode(er.Code):
			return fmt.Errorf("%w: %s (%s)", ErrNoSpace, er.Error(), er.Code)
		case authCode(er.Code):
			return fmt.Errorf("%w: %s (%s)", ErrAuth, er.Error(), er.Code)
		}
		return fmt.Errorf("s3 %s: %s (%s, HTTP %d)", s.cfg.Endpoint, er.Error(), er.Code, er.StatusCode)
	}
	if isNetErr(err) {
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	return err
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyReader) Close() error             { return nil }

// Get implements Backend. The first request is made before Get returns, so
// that a missing key fails here and not on first Read.
func (s *S3) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := s.checkKey(ctx, "get", key); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("get %s: negative offset %d", key, off)
	}
	if length == 0 {
		if _, err := s.Stat(ctx, key); err != nil {
			return nil, err
		}
		return emptyReader{}, nil
	}
	var opts minio.GetObjectOptions
	switch {
	case length < 0 || length > math.MaxInt64-off:
		if off > 0 {
			if err := opts.SetRange(off, 0); err != nil {
				return nil, fmt.Errorf("get %s: %w", key, err)
			}
		}
	default:
		if err := opts.SetRange(off, off+length-1); err != nil {
			return nil, fmt.Errorf("get %s: %w", key, err)
		}
	}
	// Core.GetObject makes the request now and streams its body, where
	// Client.GetObject is lazy and makes a second, If-Match request on the
	// first Read (which fails when the object is replaced in between).
	body, _, _, err := s.core.GetObject(ctx, s.cfg.Bucket, s.object(key), opts)
	if err != nil {
		if er, ok := asErrorResponse(err); ok && er.Code == "InvalidRange" {
			return emptyReader{}, nil // the object exists; off is at or beyond its end
		}
		return nil, fmt.Errorf("get %s: %w", key, s.translate(ctx, err))
	}
	return body, nil
}

// Put implements Backend. S3 makes a PUT atomic; a body of the wrong size
// fails before the object is replaced.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := s.checkKey(ctx, "put", key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("put %s: negative size %d", key, size)
	}
	var body io.Reader
	var er *exactReader
	switch {
	case inMemory(r, size):
		body = r
	case size <= s3BufferLimit:
		buf, err := io.ReadAll(newExactReader(ctx, r, size))
		if err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		body = bytes.NewReader(buf)
	default:
		er = newExactReader(ctx, r, size)
		body = er
	}
	_, err := s.client.PutObject(ctx, s.cfg.Bucket, s.object(key), body, size,
		minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		if er != nil && er.err != nil {
			return fmt.Errorf("put %s: %w", key, er.err)
		}
		return fmt.Errorf("put %s: %w", key, s.translate(ctx, err))
	}
	return nil
}

// inMemory reports whether r is an in-memory reader at its start holding
// exactly size bytes, which minio-go can send (and resend) as it is.
func inMemory(r io.Reader, size int64) bool {
	switch r := r.(type) {
	case *bytes.Reader:
		return r.Size() == size && int64(r.Len()) == size
	case *strings.Reader:
		return r.Size() == size && int64(r.Len()) == size
	}
	return false
}

// Stat implements Backend.
func (s *S3) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := s.checkKey(ctx, "stat", key); err != nil {
		return ObjectInfo{}, err
	}
	oi, err := s.client.StatObject(ctx, s.cfg.Bucket, s.object(key), minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, s.translate(ctx, err))
	}
	return ObjectInfo{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Delete implements Backend.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := s.checkKey(ctx, "delete", key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.cfg.Bucket, s.object(key), minio.RemoveObjectOptions{})
	if err != nil {
		if er, ok := asErrorResponse(err); ok && er.Code == "NoSuchKey" {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, s.translate(ctx, err))
	}
	return nil
}

// List implements Backend. S3 lists keys in lexical (UTF-8 byte) order.
// Objects whose names are not valid keys (not written by a Backend) are
// skipped.
func (s *S3) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	if err := validPrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if s.closed.Load() {
		return fmt.Errorf("list %s: %w", prefix, ErrClosed)
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	objs := s.client.ListObjectsIter(lctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.object(prefix), Recursive: true})
	for oi := range objs {
		if oi.Err != nil {
			return fmt.Errorf("list %s: %w", prefix, s.translate(ctx, oi.Err))
		}
		key, ok := strings.CutPrefix(oi.Key, s.cfg.Prefix)
		if !ok || ValidateKey(key) != nil {
			s.log.Debug("list: skipping object that is not a valid key", "object", oi.Key)
			continue
		}
		if err := fn(ObjectInfo{Key: key, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
	}
	return nil
}

// Close implements Backend.
func (s *S3) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.transport.CloseIdleConnections()
	return nil
}
