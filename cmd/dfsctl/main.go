package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dfsproject/dfs/cluster"
	"github.com/dfsproject/dfs/cluster/control"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses.
const (
	exitOK       = 0
	exitDegraded = 1 // dfsctl status: the cluster is degraded
	exitError    = 2 // bad usage, dfsd unreachable, any other error
)

// Environment variables for flag defaults.
const (
	envData    = "DFS_DATA"
	envKeyFile = "DFS_CLUSTER_KEY_FILE"
)

// defaultDataDir is the data directory when neither --data, $DFS_DATA nor
// ./data/dfsd.sock says otherwise.
const defaultDataDir = "/var/lib/dfs"

// command is one dfsctl command.
type command struct {
	name string
	// args shows the command's own flags and arguments in the usage.
	args    string
	summary string
	// setup registers the command's own flags on fs, if it has any, and
	// returns the function that runs the command once fs is parsed, with
	// the arguments left after the flags.
	setup func(fs *flag.FlagSet) func(e *env, args []string) int
}

// commands are dfsctl's commands, in the order of the usage. They are set
// in init because the help command prints them.
var commands []command

func init() {
	commands = []command{
		{"status", "", "the cluster's health, its nodes and open alerts (exit 1 when degraded)", noFlags(runStatus)},
		{"nodes", "", "the nodes: state, mode, address, zone, capacity, use, last seen", noFlags(runNodes)},
		{"df", "", "each node's size, used and available space, and the alive nodes' total", noFlags(runDF)},
		{"alerts", "[-n N]", "the open alerts and the last N alert changes (default 20)", setupAlerts},
		{"info", "PATH", "a file's size and, for each chunk, the nodes holding its replicas (exit 1 if some lack copies)", noFlags(runInfo)},
		{"repair", "", "check the replicas of the chunks this node looks after and copy what is missing, now (exit 1 if chunks are lost)", noFlags(runPass("repair"))},
		{"scrub", "", "re-hash this node's chunks and replace corrupt ones from a good replica, now (exit 1 if some stay corrupt)", noFlags(runPass("scrub"))},
		{"node", "ACTION NAME", "drain (move its chunks away; --wait), undrain or remove (--force) a node of the layout", setupNode},
		{"bench", "[FLAGS] DIR", "time writes, reads and stats of big and small files in DIR (bench --help)", setupBench},
		{"keygen", "", "print a new cluster key (32 random bytes, base64) for --cluster-key-file", noFlags(runKeygen)},
		{"completion", "SHELL", "print a completion script for SHELL: bash, zsh or fish", noFlags(runCompletion)},
		{"version", "", "print the version of dfsctl", noFlags(runVersion)},
		{"help", "", "print this help", noFlags(runHelp)},
	}
}

func noFlags(run func(e *env, args []string) int) func(*flag.FlagSet) func(*env, []string) int {
	return func(*flag.FlagSet) func(*env, []string) int { return run }
}

const flagsUsage = `Flags, before or after the command:
  --data DIR               dfsd's data directory; dfsctl talks to DIR/dfsd.sock
                           (default $DFS_DATA, else ./data if ./data/dfsd.sock
                           exists, else /var/lib/dfs)
  --addr HOST:PORT         talk to the dfsd at this --http-addr over HTTP instead,
                           signing requests with the cluster key
  --cluster-key-file FILE  the cluster key for --addr (default $DFS_CLUSTER_KEY_FILE)
  --json                   print JSON instead of text
  --timeout DURATION       how long to wait for dfsd (default 5s)

Exit status: 0 success; 1 status found the cluster degraded, or bench failed;
2 an error (bad usage, dfsd not reachable, ...).
`

// usage returns the help text.
func usage() string {
	var b strings.Builder
	b.WriteString("Usage: dfsctl [FLAGS] COMMAND [FLAGS]\n\nCommands:\n")
	width := 0
	for _, c := range commands {
		width = max(width, len(strings.TrimSpace(c.name+" "+c.args)))
	}
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	b.WriteString("\n" + flagsUsage)
	return b.String()
}

// globals are the flags every command takes.
type globals struct {
	data    string // "" means the default (see dataDir)
	addr    string
	keyFile string // "" means $DFS_CLUSTER_KEY_FILE
	json    bool
	timeout time.Duration
}

// register adds the global flags to fs, with their current values as
// defaults so that a second flag set does not reset what the first parsed.
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.data, "data", g.data, "")
	fs.StringVar(&g.addr, "addr", g.addr, "")
	fs.StringVar(&g.keyFile, "cluster-key-file", g.keyFile, "")
	fs.BoolVar(&g.json, "json", g.json, "")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "")
}

// env is what a command runs with.
type env struct {
	globals
	stdout, stderr io.Writer
}

// fail prints err as dfsctl's error and returns exitError.
func (e *env) fail(err error) int {
	fmt.Fprintf(e.stderr, "dfsctl: %v\n", err)
	return exitError
}

// usageError prints a usage error and the usage, and returns exitError.
func (e *env) usageError(format string, args ...any) int {
	fmt.Fprintf(e.stderr, "dfsctl: "+format+"\n\n%s", append(args, usage())...)
	return exitError
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is dfsctl with arguments args; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	e := &env{globals: globals{timeout: control.DefaultTimeout}, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return exitError
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = append([]string{"version"}, args[1:]...)
	}
	// Global flags before the command.
	fs := newFlagSet(&e.globals)
	if err := fs.Parse(args); err != nil {
		return e.flagError(err)
	}
	if fs.NArg() == 0 {
		return e.usageError("no command given")
	}
	name := fs.Arg(0)
	var cmd *command
	for i := range commands {
		if commands[i].name == name {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		return e.usageError("unknown command %q", name)
	}
	// The command's flags and the global flags after the command.
	cfs := newFlagSet(&e.globals)
	runCmd := cmd.setup(cfs)
	if err := cfs.Parse(fs.Args()[1:]); err != nil {
		return e.flagError(err)
	}
	if e.timeout <= 0 {
		return e.usageError("--timeout must be positive, not %v", e.timeout)
	}
	return runCmd(e, cfs.Args())
}

func newFlagSet(g *globals) *flag.FlagSet {
	fs := flag.NewFlagSet("dfsctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	g.register(fs)
	return fs
}

// flagError answers a flag parsing error: -h prints the help.
func (e *env) flagError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stdout, usage())
		return exitOK
	}
	return e.usageError("%v", err)
}

// noArgs refuses arguments left after a command's flags.
func (e *env) noArgs(name string, args []string) bool {
	if len(args) > 0 {
		e.usageError("%s takes no arguments", name)
		return false
	}
	return true
}

// dataDir returns the data directory: --data, else $DFS_DATA, else ./data
// when ./data/dfsd.sock exists, else /var/lib/dfs.
func (g *globals) dataDir() string {
	if g.data != "" {
		return g.data
	}
	if d := os.Getenv(envData); d != "" {
		return d
	}
	if _, err := os.Lstat(filepath.Join("data", control.SocketName)); err == nil {
		return "data"
	}
	return defaultDataDir
}

// client returns the control client the flags ask for.
func (g *globals) client() (*control.Client, error) {
	if g.addr == "" {
		return &control.Client{Socket: control.SocketPath(g.dataDir()), Timeout: g.timeout}, nil
	}
	if g.data != "" {
		return nil, errors.New("give --data (the local dfsd) or --addr (a dfsd over HTTP), not both")
	}
	file := g.keyFile
	if file == "" {
		file = os.Getenv(envKeyFile)
	}
	if file == "" {
		return nil, fmt.Errorf("--addr needs the cluster key: give --cluster-key-file FILE or set $%s", envKeyFile)
	}
	key, err := cluster.LoadKeyFile(file)
	if err != nil {
		return nil, err
	}
	return &control.Client{Addr: g.addr, Key: key, Timeout: g.timeout}, nil
}

func runKeygen(e *env, args []string) int {
	if !e.noArgs("keygen", args) {
		return exitError
	}
	key, err := cluster.GenerateKey()
	if err != nil {
		return e.fail(fmt.Errorf("cannot generate a key: %w", err))
	}
	fmt.Fprintln(e.stdout, cluster.EncodeKey(key))
	return exitOK
}

func runVersion(e *env, args []string) int {
	if !e.noArgs("version", args) {
		return exitError
	}
	fmt.Fprintf(e.stdout, "dfsctl %s\n", version)
	return exitOK
}

func runHelp(e *env, _ []string) int {
	fmt.Fprint(e.stdout, usage())
	return exitOK
}
