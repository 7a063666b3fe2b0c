package cluster

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestKeyEncodeDecode(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(k) != KeySize {
		t.Fatalf("key is %d bytes", len(k))
	}
	k2, err := DecodeKey(EncodeKey(k) + "\n")
	if err != nil || !bytes.Equal(k, k2) {
		t.Fatalf("round trip: %x, %v", k2, err)
	}
	for _, bad := range []string{"", "not base64!", EncodeKey(k[:16])} {
		if _, err := DecodeKey(bad); err == nil {
			t.Errorf("DecodeKey(%q) accepted", bad)
		}
	}
}

func TestLoadKeyFile(t *testing.T) {
	k, _ := GenerateKey()
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := LoadKeyFile(write("ok", EncodeKey(k)+"\n", 0o600))
	if err != nil || !bytes.Equal(got, k) {
		t.Fatalf("LoadKeyFile: %x, %v", got, err)
	}
	if _, err := LoadKeyFile(write("ro", EncodeKey(k), 0o400)); err != nil {
		t.Fatalf("mode 0400: %v", err)
	}
	for _, mode := range []os.FileMode{0o640, 0o644, 0o604, 0o660} {
		_, err := LoadKeyFile(write("open", EncodeKey(k), mode))
		if !errors.Is(err, ErrKeyFilePermissions) {
			t.Errorf("mode %#o: err = %v, want ErrKeyFilePermissions", mode, err)
		}
	}
	if _, err := LoadKeyFile(write("short", EncodeKey(k[:10]), 0o600)); err == nil {
		t.Error("short key accepted")
	}
	if _, err := LoadKeyFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}
