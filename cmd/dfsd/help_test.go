package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestHelp compares dfsd --help with testdata/help.golden; go test
// ./cmd/dfsd -run TestHelp -update rewrites the golden file.
func TestHelp(t *testing.T) {
	var stderr bytes.Buffer
	c, err := parseFlags([]string{"--help"}, io.Discard, &stderr)
	if !errors.Is(err, flag.ErrHelp) || c != nil {
		t.Fatalf("parseFlags(--help) = %v, %v; want nil, flag.ErrHelp", c, err)
	}
	got := stderr.String()
	const golden = "testdata/help.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("dfsd --help differs from %s (go test ./cmd/dfsd -run TestHelp -update rewrites it):\n%s", golden, got)
	}
	// What the help must say, whatever the golden file holds.
	for _, s := range []string{"-config FILE", "-print-config",
		"Precedence, highest first: the command line; the config file; the\nenvironment, for the S3 credentials only"} {
		if !strings.Contains(got, s) {
			t.Errorf("dfsd --help does not mention %q", s)
		}
	}
}

// TestHelpNoHostName: the help is the same on every host (the golden file
// would differ otherwise), and the node name still defaults to the host's.
func TestHelpNoHostName(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		t.Skip("no host name")
	}
	var stderr bytes.Buffer
	parseFlags([]string{"--help"}, io.Discard, &stderr)
	if strings.Contains(stderr.String(), `"`+host+`"`) {
		t.Errorf("dfsd --help shows this host's name %q", host)
	}
	if c := parse(t, "--data", "/d"); c.nodeName != host {
		t.Errorf("--name defaults to %q, want the host name %q", c.nodeName, host)
	}
}
