package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

const helpGolden = "testdata/help.golden"

// helpTranscript runs every way of asking dfsctl for help and returns what
// each printed, an output the same as dfsctl help's written as such.
func helpTranscript(t *testing.T) string {
	t.Helper()
	invocations := [][]string{{"help"}, {"--help"}, {"-h"}}
	for _, c := range commands {
		invocations = append(invocations, []string{c.name, "--help"})
	}
	var b strings.Builder
	var help string
	for _, args := range invocations {
		code, out, errOut := dfsctl(args...)
		if code != exitOK || errOut != "" || out == "" {
			t.Errorf("dfsctl %s: exit %d, stderr %q, stdout %q", strings.Join(args, " "), code, errOut, out)
		}
		fmt.Fprintf(&b, "$ dfsctl %s\n", strings.Join(args, " "))
		switch {
		case help == "":
			help = out
			b.WriteString(out)
		case out == help:
			b.WriteString("(the same as dfsctl help)\n")
		default:
			b.WriteString(out)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestHelpGolden compares every help output with testdata/help.golden;
// go test -run Help -update rewrites it.
func TestHelpGolden(t *testing.T) {
	got := helpTranscript(t)
	if *update {
		if err := os.MkdirAll(filepath.Dir(helpGolden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(helpGolden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", helpGolden)
		return
	}
	want, err := os.ReadFile(helpGolden)
	if err != nil {
		t.Fatalf("%v (go test -run Help -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("the help differs from %s (go test -run Help -update rewrites it):\n%s", helpGolden, lineDiff(string(want), got))
	}
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

// TestHelpTranscriptCoversEveryCommand makes sure the golden file cannot
// miss a command: each one's --help is in the transcript.
func TestHelpTranscriptCoversEveryCommand(t *testing.T) {
	got := helpTranscript(t)
	for _, c := range commands {
		if !strings.Contains(got, "$ dfsctl "+c.name+" --help\n") {
			t.Errorf("the help transcript lacks dfsctl %s --help", c.name)
		}
		if !strings.Contains(got, "\n  "+strings.TrimSpace(c.name+" "+c.args)+"  ") {
			t.Errorf("the usage lacks %s", c.name)
		}
	}
}
