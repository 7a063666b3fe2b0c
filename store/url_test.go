package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/s3test"
)

func TestParseBackendURL(t *testing.T) {
	t.Setenv(store.EnvS3AccessKey, "")
	t.Setenv(store.EnvS3SecretKey, "")
	s3 := func(c store.S3Config) store.BackendSpec { return store.BackendSpec{Kind: store.KindS3, S3: c} }
	for _, tc := range []struct {
		raw     string
		want    store.BackendSpec
		errWant string // substring of the error; "" means no error
	}{
		{"", store.BackendSpec{Kind: store.KindDir, Dir: "/data/chunks"}, ""},
		{"dir:///var/lib/dfs", store.BackendSpec{Kind: store.KindDir, Dir: "/var/lib/dfs"}, ""},
		{"dir:///var/lib/dfs/../x/", store.BackendSpec{Kind: store.KindDir, Dir: "/var/lib/x"}, ""},
		{"dir://relative/path", store.BackendSpec{}, "absolute path"},
		{"dir:relative", store.BackendSpec{}, "relative"},
		{"dir://", store.BackendSpec{}, "absolute path"},
		{"dir:///x?sync=1", store.BackendSpec{}, "no query"},
		{"/abs/path", store.BackendSpec{}, "no scheme"},
		{"ftp://h/b", store.BackendSpec{}, `scheme "ftp" is not supported`},
		{"s3://minio:9000/bucket", s3(store.S3Config{Endpoint: "minio:9000", Bucket: "bucket", Secure: true}), ""},
		{"s3://h:1/bucket/some/prefix/?tls=false&region=eu-west-1&create=true&path_style=true",
			s3(store.S3Config{Endpoint: "h:1", Bucket: "bucket", Prefix: "some/prefix", Region: "eu-west-1", CreateBucket: true, PathStyle: true}), ""},
		{"s3://AK:S%2Fcr%40t@h:1/bucket?tls=0",
			s3(store.S3Config{Endpoint: "h:1", Bucket: "bucket", AccessKey: "AK", SecretKey: "S/cr@t"}), ""},
		{"s3://h:1/bucket?tls=maybe", store.BackendSpec{}, `tls="maybe": want true or false`},
		{"s3://h:1/bucket?create=yes", store.BackendSpec{}, "want true or false"},
		{"s3://h:1/bucket?colour=blue", store.BackendSpec{}, `unknown option "colour"`},
		{"s3://h:1/bucket?tls=true&tls=false", store.BackendSpec{}, "given 2 times"},
		{"s3://h:1/bucket?region=", store.BackendSpec{}, "region is empty"},
		{"s3://h:1/", store.BackendSpec{}, "no bucket"},
		{"s3://h:1", store.BackendSpec{}, "no bucket"},
		{"s3:///bucket", store.BackendSpec{}, "no host"},
		{"s3://h:1/Bad_Bucket", store.BackendSpec{}, "bucket"},
		{"s3://h:1/bucket/../x", store.BackendSpec{}, "prefix"},
		{"s3://AK@h:1/bucket", store.BackendSpec{}, "KEY:SECRET"},
		{"s3://AK:SECRETVALUE@h:1/bucket?bad=1", store.BackendSpec{}, "unknown option"},
		{"s3://h:1/bucket#frag", store.BackendSpec{}, "fragment"},
		{"s3://h:port/bucket", store.BackendSpec{}, "not a valid URL"},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := store.ParseBackendURL(tc.raw, "/data")
			if tc.errWant != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errWant) {
					t.Fatalf("error %v, want one containing %q", err, tc.errWant)
				}
				if strings.Contains(err.Error(), "SECRETVALUE") {
					t.Fatalf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", got.S3) != fmt.Sprintf("%+v", tc.want.S3) || got.S3.SecretKey != tc.want.S3.SecretKey ||
				got.Kind != tc.want.Kind || got.Dir != tc.want.Dir {
				t.Fatalf("got %#v (secret %q), want %#v (secret %q)", got, got.S3.SecretKey, tc.want, tc.want.S3.SecretKey)
			}
		})
	}
}

func TestParseBackendURLDataDir(t *testing.T) {
	if _, err := store.ParseBackendURL("", ""); err == nil {
		t.Fatal("no URL and no data dir: no error")
	}
	got, err := store.ParseBackendURL("", "rel")
	if err != nil || !filepath.IsAbs(got.Dir) || filepath.Base(got.Dir) != "chunks" {
		t.Fatalf("relative data dir: %+v, %v", got, err)
	}
}

func TestParseBackendURLEnvCredentials(t *testing.T) {
	t.Setenv(store.EnvS3AccessKey, "envkey")
	t.Setenv(store.EnvS3SecretKey, "envsecret")
	got, err := store.ParseBackendURL("s3://h:1/bucket", "/data")
	if err != nil || got.S3.AccessKey != "envkey" || got.S3.SecretKey != "envsecret" {
		t.Fatalf("credentials from the environment: %v, %v", got, err)
	}
	// The URL wins over the environment.
	got, err = store.ParseBackendURL("s3://urlkey:urlsecret@h:1/bucket", "/data")
	if err != nil || got.S3.AccessKey != "urlkey" || got.S3.SecretKey != "urlsecret" {
		t.Fatalf("credentials from the URL: %v, %v", got, err)
	}
	t.Setenv(store.EnvS3SecretKey, "")
	if _, err := store.ParseBackendURL("s3://h:1/bucket", "/data"); err == nil || !strings.Contains(err.Error(), store.EnvS3SecretKey) {
		t.Fatalf("only an access key in the environment: %v", err)
	}
}

func TestBackendSpecRedacted(t *testing.T) {
	t.Setenv(store.EnvS3AccessKey, "")
	t.Setenv(store.EnvS3SecretKey, "")
	for _, tc := range []struct{ raw, redacted, location string }{
		{"dir:///a/b", "dir:///a/b", "dir:///a/b"},
		{"s3://h:1/bucket", "s3://h:1/bucket", "s3://h:1/bucket"},
		{"s3://AK:topsecret@h:1/bucket/pre/?tls=false&create=true&path_style=true&region=r1",
			"s3://AK:***@h:1/bucket/pre?tls=false&region=r1&create=true&path_style=true", "s3://h:1/bucket/pre"},
	} {
		spec, err := store.ParseBackendURL(tc.raw, "/data")
		if err != nil {
			t.Fatal(err)
		}
		if got := spec.Redacted(); got != tc.redacted {
			t.Errorf("Redacted(%s) = %s, want %s", tc.raw, got, tc.redacted)
		}
		if got := spec.Location(); got != tc.location {
			t.Errorf("Location(%s) = %s, want %s", tc.raw, got, tc.location)
		}
		for _, s := range []string{fmt.Sprint(spec), fmt.Sprintf("%+v", spec), fmt.Sprintf("%#v", spec)} {
			if strings.Contains(s, "topsecret") {
				t.Errorf("secret shown: %s", s)
			}
		}
		// The redacted form parses back to the same place.
		back, err := store.ParseBackendURL(strings.Replace(tc.redacted, "***", "x", 1), "/data")
		if err != nil || back.Location() != spec.Location() {
			t.Errorf("Redacted form %s does not parse back: %v %v", tc.redacted, back, err)
		}
	}
}

func TestOpenBackend(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := store.OpenBackend(ctx, store.BackendSpec{Kind: store.KindDir, Dir: filepath.Join(dir, "chunks")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := store.OpenBackend(ctx, store.BackendSpec{Kind: "tape"}, nil); err == nil {
		t.Fatal("unknown kind: no error")
	}
	if _, err := store.OpenBackend(ctx, store.BackendSpec{Kind: store.KindDir, Dir: "rel"}, nil); err == nil {
		t.Fatal("relative dir: no error")
	}
	spec, err := store.ParseBackendURL("s3://AK:SK@127.0.0.1:1/bucket?tls=false", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.OpenBackend(ctx, spec, nil); !errors.Is(err, store.ErrUnreachable) {
		t.Fatalf("OpenBackend on 127.0.0.1:1 = %v, want ErrUnreachable", err)
	}
}

func TestOpenBackendS3URL(t *testing.T) {
	spec, err := store.ParseBackendURL(s3test.URL(t), "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.OpenBackend(context.Background(), spec, nil)
	if err != nil {
		t.Fatalf("OpenBackend(%s): %v", spec.Redacted(), err)
	}
	defer b.Close()
	if err := b.Put(context.Background(), "x", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
}
