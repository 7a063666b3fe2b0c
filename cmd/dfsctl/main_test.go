package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dfsproject/dfs/cluster"
)

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"version"}, 0, "dfsctl dev\n", ""},
		{[]string{"help"}, 0, "Usage: dfsctl", ""},
		{nil, 2, "", "Usage: dfsctl"},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"keygen", "extra"}, 2, "", "keygen takes no arguments"},
		{[]string{"--version"}, 0, "dfsctl dev\n", ""},
		{[]string{"--json", "version"}, 0, "dfsctl dev\n", ""},
		{[]string{"-h"}, 0, "Usage: dfsctl", ""},
		{[]string{"status", "--help"}, 0, "Usage: dfsctl", ""},
		{[]string{"--bogus", "status"}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"status", "--bogus"}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"nodes", "-n", "3"}, 2, "", "flag provided but not defined: -n"},
		{[]string{"status", "extra"}, 2, "", "status takes no arguments"},
		{[]string{"--json"}, 2, "", "no command given"},
		{[]string{"--data"}, 2, "", "flag needs an argument: -data"},
	} {
		var out, errOut bytes.Buffer
		code := run(tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errOut.String(), tc.errOut) {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want %d, %q, %q",
				tc.args, code, out.String(), errOut.String(), tc.code, tc.out, tc.errOut)
		}
	}
}

func TestKeygen(t *testing.T) {
	var keys []string
	for i := 0; i < 2; i++ {
		var out, errOut bytes.Buffer
		if code := run([]string{"keygen"}, &out, &errOut); code != 0 {
			t.Fatalf("keygen exit %d: %s", code, errOut.String())
		}
		line := strings.TrimSpace(out.String())
		key, err := cluster.DecodeKey(line)
		if err != nil || len(key) != 32 {
			t.Fatalf("keygen printed %q: %v, %d bytes; want a 32-byte key", line, err, len(key))
		}
		keys = append(keys, line)
	}
	if keys[0] == keys[1] {
		t.Fatalf("two keygen runs printed the same key %q", keys[0])
	}
}

func TestUsageListsCommandsAndFlags(t *testing.T) {
	u := usage()
	for _, c := range commands {
		if !strings.Contains(u, "\n  "+c.name+" ") {
			t.Errorf("usage does not list %s:\n%s", c.name, u)
		}
	}
	for _, f := range []string{"--data DIR", "--addr HOST:PORT", "--cluster-key-file FILE", "--json", "--timeout DURATION"} {
		if !strings.Contains(u, f) {
			t.Errorf("usage does not describe %s", f)
		}
	}
}
