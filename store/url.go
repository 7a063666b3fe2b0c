package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Environment variables holding S3 credentials when the backend URL has none.
const (
	EnvS3AccessKey = "DFS_S3_ACCESS_KEY"
	EnvS3SecretKey = "DFS_S3_SECRET_KEY"
)

// Backend kinds of a BackendSpec.
const (
	KindDir = "dir"
	KindS3  = "s3"
)

// BackendSpec is a parsed backend URL: what OpenBackend opens. Fields may be
// changed between parsing and opening (cmd sets the S3 credentials from its
// flags). String and Redacted hide the secret key.
type BackendSpec struct {
	Kind string   // KindDir or KindS3
	Dir  string   // KindDir: absolute path of the directory
	S3   S3Config // KindS3
}

// ParseBackendURL parses a backend URL:
//
//	dir:///abs/path
//	s3://[KEY:SECRET@]host[:port]/bucket[/prefix][?tls=false&region=R&create=true&path_style=true]
//
// An empty raw means the directory dataDir/chunks. S3 credentials missing
// from the URL are taken from $DFS_S3_ACCESS_KEY and $DFS_S3_SECRET_KEY.
// For s3, tls defaults to true and create and path_style to false.
func ParseBackendURL(raw, dataDir string) (BackendSpec, error) {
	if raw == "" {
		if dataDir == "" {
			return BackendSpec{}, errors.New("no backend URL and no data directory to put the chunks in")
		}
		abs, err := filepath.Abs(dataDir)
		if err != nil {
			return BackendSpec{}, fmt.Errorf("data directory %s: %v", dataDir, err)
		}
		return BackendSpec{Kind: KindDir, Dir: filepath.Join(abs, "chunks")}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, which may hold a secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return BackendSpec{}, fmt.Errorf("backend URL is not a valid URL: %v", err)
	}
	switch u.Scheme {
	case KindDir:
		return parseDirURL(u)
	case KindS3:
		return parseS3URL(u)
	case "":
		return BackendSpec{}, fmt.Errorf("backend URL %q has no scheme: use dir:///abs/path or s3://host:port/bucket", redactRaw(u))
	default:
		return BackendSpec{}, fmt.Errorf("backend URL scheme %q is not supported: use dir:///abs/path or s3://host:port/bucket", u.Scheme)
	}
}

// redactRaw is u for an error message, without its secret.
func redactRaw(u *url.URL) string {
	if _, ok := u.User.Password(); ok {
		c := *u
		c.User = url.UserPassword(u.User.Username(), "***")
		return strings.Replace(c.String(), "%2A%2A%2A", "***", 1)
	}
	return u.String()
}

func parseDirURL(u *url.URL) (BackendSpec, error) {
	const want = "a dir backend URL needs an absolute path with three slashes, like dir:///var/lib/dfs/chunks"
	switch {
	case u.Opaque != "":
		return BackendSpec{}, fmt.Errorf("%q: the path is relative; %s", u.String(), want)
	case u.User != nil || u.Host != "":
		return BackendSpec{}, fmt.Errorf("%q: %q would be a host; %s", redactRaw(u), u.Host, want)
	case u.Path == "" || !filepath.IsAbs(u.Path):
		return BackendSpec{}, fmt.Errorf("%q: no absolute path; %s", u.String(), want)
	case u.RawQuery != "" || u.Fragment != "":
		return BackendSpec{}, fmt.Errorf("%q: a dir backend URL takes no query or fragment", u.String())
	}
	return BackendSpec{Kind: KindDir, Dir: filepath.Clean(u.Path)}, nil
}

func parseS3URL(u *url.URL) (BackendSpec, error) {
	const want = "an s3 backend URL looks like s3://[KEY:SECRET@]host:port/bucket[/prefix][?tls=false&region=R&create=true&path_style=true]"
	shown := redactRaw(u)
	if u.Opaque != "" || u.Host == "" {
		return BackendSpec{}, fmt.Errorf("%q: no host; %s", shown, want)
	}
	if u.Fragment != "" {
		return BackendSpec{}, fmt.Errorf("%q: a fragment (#...) is not allowed; %s", shown, want)
	}
	path := strings.TrimPrefix(u.Path, "/")
	bucket, prefix, _ := strings.Cut(path, "/")
	if bucket == "" {
		return BackendSpec{}, fmt.Errorf("%q: no bucket; %s", shown, want)
	}
	cfg := S3Config{
		Endpoint: u.Host,
		Bucket:   bucket,
		Prefix:   strings.TrimSuffix(prefix, "/"),
		Secure:   true,
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return BackendSpec{}, fmt.Errorf("%q: bad query: %v", shown, err)
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return BackendSpec{}, fmt.Errorf("%q: option %s given %d times", shown, k, len(vs))
		}
		v := vs[0]
		switch k {
		case "tls":
			cfg.Secure, err = parseBool(k, v)
		case "create":
			cfg.CreateBucket, err = parseBool(k, v)
		case "path_style":
			cfg.PathStyle, err = parseBool(k, v)
		case "region":
			if v == "" {
				err = errors.New("region is empty")
			}
			cfg.Region = v
		default:
			err = fmt.Errorf("unknown option %q (known: tls, region, create, path_style)", k)
		}
		if err != nil {
			return BackendSpec{}, fmt.Errorf("%q: %v", shown, err)
		}
	}
	if u.User != nil {
		cfg.AccessKey = u.User.Username()
		secret, ok := u.User.Password()
		if !ok || cfg.AccessKey == "" || secret == "" {
			return BackendSpec{}, fmt.Errorf("%q: credentials in the URL must be KEY:SECRET", shown)
		}
		cfg.SecretKey = secret
	} else {
		cfg.AccessKey = os.Getenv(EnvS3AccessKey)
		cfg.SecretKey = os.Getenv(EnvS3SecretKey)
	}
	spec := BackendSpec{Kind: KindS3, S3: cfg}
	if err := cfg.Validate(); err != nil {
		if errors.Is(err, errOnlyOneKey) {
			err = fmt.Errorf("%v (from $%s and $%s)", err, EnvS3AccessKey, EnvS3SecretKey)
		}
		return BackendSpec{}, fmt.Errorf("%s: %v", spec.Redacted(), err)
	}
	return spec, nil
}

func parseBool(k, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("option %s=%q: want true or false", k, v)
	}
	return b, nil
}

// Remote reports whether the backend is across the network (worth a local
// disk cache).
func (s BackendSpec) Remote() bool { return s.Kind == KindS3 }

// Location names where the chunks are, without credentials or connection
// options: dir:///path or s3://host:port/bucket[/prefix]. Two specs with the
// same Location hold the same chunks.
func (s BackendSpec) Location() string {
	switch s.Kind {
	case KindDir:
		return "dir://" + s.Dir
	case KindS3:
		l := "s3://" + s.S3.Endpoint + "/" + s.S3.Bucket
		if p := strings.TrimSuffix(s.S3.Prefix, "/"); p != "" {
			l += "/" + p
		}
		return l
	}
	return s.Kind + ":"
}

// Redacted is the spec as a URL with the secret key masked.
func (s BackendSpec) Redacted() string {
	if s.Kind != KindS3 {
		return s.Location()
	}
	c := s.S3
	l := strings.TrimPrefix(s.Location(), "s3://")
	if c.AccessKey != "" || c.SecretKey != "" {
		l = url.User(c.AccessKey).String() + ":***@" + l
	}
	var q []string
	if !c.Secure {
		q = append(q, "tls=false")
	}
	if c.Region != "" {
		q = append(q, "region="+url.QueryEscape(c.Region))
	}
	if c.CreateBucket {
		q = append(q, "create=true")
	}
	if c.PathStyle {
		q = append(q, "path_style=true")
	}
	l = "s3://" + l
	if len(q) > 0 {
		l += "?" + strings.Join(q, "&")
	}
	return l
}

// String is Redacted, so that printing a spec never shows the secret.
func (s BackendSpec) String() string { return s.Redacted() }

// GoString hides the secret from %#v.
func (s BackendSpec) GoString() string { return "store.BackendSpec{" + s.Redacted() + "}" }

// LogValue hides the secret from slog.
func (s BackendSpec) LogValue() slog.Value { return slog.StringValue(s.Redacted()) }

// OpenBackend opens the backend spec names: NewDir, or NewS3 (which checks
// the endpoint, credentials and bucket within ctx and a few seconds).
func OpenBackend(ctx context.Context, spec BackendSpec, logger *slog.Logger) (Backend, error) {
	switch spec.Kind {
	case KindDir:
		if !filepath.IsAbs(spec.Dir) {
			return nil, fmt.Errorf("dir backend: path %q is not absolute", spec.Dir)
		}
		return NewDir(spec.Dir)
	case KindS3:
		cfg := spec.S3
		cfg.Logger = logger
		return NewS3(ctx, cfg)
	}
	return nil, fmt.Errorf("unknown backend kind %q (want %s or %s)", spec.Kind, KindDir, KindS3)
}
