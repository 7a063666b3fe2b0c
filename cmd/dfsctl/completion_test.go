package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// script returns dfsctl completion SHELL's output.
func script(t *testing.T, shell string) string {
	t.Helper()
	code, out, errOut := dfsctl("completion", shell)
	if code != exitOK || errOut != "" || out == "" {
		t.Fatalf("completion %s: exit %d, stderr %q", shell, code, errOut)
	}
	return out
}

// tableFlags returns every flag of the command table, global ones
// included, as offered: -n, --data.
func tableFlags() []string {
	set := map[string]bool{"--help": true}
	add := func(f *flag.Flag) {
		if f.Name != "h" && f.Name != "help" {
			set[complFlag{name: f.Name}.dash()] = true
		}
	}
	newFlagSet(&globals{}).VisitAll(add)
	for _, c := range commands {
		fs := newFlagSet(&globals{})
		c.setup(fs)
		fs.VisitAll(add)
	}
	var flags []string
	for f := range set {
		flags = append(flags, f)
	}
	slices.Sort(flags)
	return flags
}

func TestCompletionFollowsTheTable(t *testing.T) {
	flags := tableFlags()
	for _, want := range []string{"--data", "--json", "-n", "-p", "--big-file-size", "--drop-caches"} {
		if !slices.Contains(flags, want) {
			t.Fatalf("the table's flags %q lack %s", flags, want)
		}
	}
	for _, shell := range completionShells {
		s := script(t, shell)
		for _, c := range commands {
			if !strings.Contains(s, c.name) {
				t.Errorf("the %s script does not mention the command %s", shell, c.name)
			}
		}
		for _, f := range flags {
			name := strings.TrimLeft(f, "-")
			// bash and zsh write the flag as offered; fish by its name.
			if shell == "fish" && !strings.Contains(s, " "+name+" ") || shell != "fish" && !strings.Contains(s, f) {
				t.Errorf("the %s script does not mention %s", shell, f)
			}
		}
	}
	// The global flags' descriptions come from the usage text.
	spec := completionSpec()
	for _, f := range spec.globals {
		if f.desc == "" {
			t.Errorf("global flag %s has no description", f.dash())
		}
	}
	if i := slices.IndexFunc(spec.globals, func(f complFlag) bool { return f.name == "addr" }); i < 0 ||
		spec.globals[i].value != "HOST:PORT" || !strings.HasSuffix(spec.globals[i].desc, "signing requests with the cluster key") {
		t.Errorf("--addr: %+v", spec.globals)
	}
}

func TestCompletionErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"completion", "tcsh"}, `no completion for the shell "tcsh": choose bash, zsh, fish`},
		{[]string{"completion"}, "completion takes one shell: bash, zsh, fish"},
		{[]string{"completion", "bash", "zsh"}, "completion takes one shell"},
	} {
		code, out, errOut := dfsctl(tc.args...)
		if code != exitError || out != "" || !strings.HasPrefix(errOut, "dfsctl: "+tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// checkSyntax runs the shell's syntax check on the script, when the shell
// is installed.
func checkSyntax(t *testing.T, shell string, args ...string) {
	path, err := exec.LookPath(shell)
	if err != nil {
		t.Skipf("no %s: %v", shell, err)
	}
	file := filepath.Join(t.TempDir(), "dfsctl."+shell)
	if err := os.WriteFile(file, []byte(script(t, shell)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(path, append(args, file)...).CombinedOutput(); err != nil {
		t.Errorf("%s rejects the script: %v\n%s", shell, err, out)
	}
}

func TestCompletionSyntax(t *testing.T) {
	t.Run("bash", func(t *testing.T) { checkSyntax(t, "bash", "-n") })
	t.Run("zsh", func(t *testing.T) { checkSyntax(t, "zsh", "-n") })
	t.Run("fish", func(t *testing.T) { checkSyntax(t, "fish", "--no-execute") })
}

// TestBashCompletes runs the bash function as bash's completion would.
func TestBashCompletes(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skipf("no bash: %v", err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "dfsctl.bash")
	if err := os.WriteFile(file, []byte(script(t, "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"mnt", "mnt2", "data"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "mfile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words []string // the last one is the word being completed
		want  []string
	}{
		{[]string{"be"}, []string{"bench"}},
		{[]string{""}, []string{"status", "nodes", "df", "alerts", "info", "repair", "scrub", "node", "bench", "keygen", "completion", "version", "help"}},
		{[]string{"--j"}, []string{"--json"}},
		{[]string{"--data", "d"}, []string{"data"}},
		{[]string{"--data", "data", "n"}, []string{"node", "nodes"}},
		{[]string{"--data", "=", "data", "s"}, []string{"scrub", "status"}},
		{[]string{"--json", "=", "true", "d"}, []string{"df"}},
		{[]string{"--cluster-key-file", "m"}, []string{"mfile", "mnt", "mnt2"}},
		{[]string{"--timeout", ""}, nil},
		{[]string{"bench", "--big-f"}, []string{"--big-file-size", "--big-files"}},
		{[]string{"bench", "-p", "2", "m"}, []string{"mnt", "mnt2"}},
		{[]string{"bench", "--block-size", ""}, nil},
		{[]string{"alerts", "-"}, []string{"-n", "--addr", "--cluster-key-file", "--data", "--json", "--timeout", "--help"}},
		{[]string{"status", "--d"}, []string{"--data"}},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish"}},
		{[]string{"completion", "f"}, []string{"fish"}},
		{[]string{"version", ""}, nil},
	} {
		words := append([]string{"dfsctl"}, tc.words...)
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, shQuote(w))
		}
		prog := `source dfsctl.bash
COMP_WORDS=(` + strings.Join(quoted, " ") + `)
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_dfsctl
printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", words, err, out)
		}
		got := strings.Fields(string(out))
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) {
			t.Errorf("completing %q: %q, want %q", words, got, want)
		}
	}
}

// TestFishCompletes asks fish for completions, when fish is installed.
func TestFishCompletes(t *testing.T) {
	fish, err := exec.LookPath("fish")
	if err != nil {
		t.Skipf("no fish: %v", err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "dfsctl.fish")
	if err := os.WriteFile(file, []byte(script(t, "fish")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"dfsctl be", []string{"bench"}},
		{"dfsctl bench --big-f", []string{"--big-file-size", "--big-files"}},
		{"dfsctl completion ", []string{"bash", "fish", "zsh"}},
		{"dfsctl alerts -", []string{"-n", "--addr", "--cluster-key-file", "--data", "--help", "--json", "--timeout"}},
	} {
		cmd := exec.Command(fish, "--no-config", "-c", "source "+file+"; complete -C "+shQuote(tc.line))
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tc.line, err, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			got = append(got, strings.Split(l, "\t")[0])
		}
		slices.Sort(got)
		if want := slices.Sorted(slices.Values(tc.want)); !slices.Equal(got, want) {
			t.Errorf("completing %q: %q, want %q", tc.line, got, want)
		}
	}
}
