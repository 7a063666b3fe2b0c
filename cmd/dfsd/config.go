package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dfsproject/dfs/cmd/internal/units"
	"github.com/dfsproject/dfs/store"
)

// config is dfsd's parsed command line and config file.
type config struct {
	configFile   string // --config: the file the flags below may come from
	printConfig  bool   // --print-config
	dataDir      string
	mountpoint   string
	backend      string
	s3AccessKey  string
	s3SecretKey  string
	chunkSize    int64
	chunkSizeSet bool
	// repairSet: some of --repair-bandwidth, --repair-concurrency and
	// --scrub-bandwidth were given (they then apply even in the test
	// gossip profile, whose own defaults are unlimited and no background
	// scrub).
	repairSet       bool
	repairBandwidth int64
	repairParallel  int
	scrubBandwidth  int64
	memCache        int64
	diskCache       int64
	maxDirty        int64
	entryTimeout    time.Duration
	attrTimeout     time.Duration
	gcGrace         time.Duration
	logFormat       string
	logLevel        string
	debugFUSE       bool
	allowOther      bool
	showVersion     bool
	pprofAddr       string

	// Cluster membership, peer API and alerts.
	nodeName      string
	gossipAddr    string
	advertise     string
	httpAddr      string
	join          listFlag
	zone          string
	capacity      int64
	keyFile       string
	webhooks      listFlag
	clusterName   string
	gossipProfile string
	statusToken   string // --status-token, else $DFS_STATUS_TOKEN

	// Raft and replication.
	raftAddr        string
	bootstrapExpect int
	replicas        int
	capacityAlert   int
	downOut         time.Duration
	underAlert      time.Duration
	mutationTimeout time.Duration
}

// listFlag is a repeatable flag; each value may also hold several items
// separated by commas.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Get returns the items, for flag.Getter.
func (l *listFlag) Get() any { return []string(*l) }

func (l *listFlag) Set(s string) error {
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// byteSize is a flag.Value accepting 4194304, 4MiB, 64KiB, 1GiB, 512M ...
type byteSize struct{ v *int64 }

func (b byteSize) String() string {
	if b.v == nil {
		return "0"
	}
	return formatBytes(*b.v)
}

// Get returns the size in bytes, for flag.Getter.
func (b byteSize) Get() any { return *b.v }

func (b byteSize) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b.v = n
	return nil
}

func parseBytes(s string) (int64, error) { return units.ParseBytes(s) }

func formatBytes(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// errPrinted is parseFlags' answer when the command line asked only for
// something to be printed (--help, --print-config) and it has been: dfsd
// exits 0. It matches flag.ErrHelp, which run already treats that way.
var errPrinted = fmt.Errorf("nothing more to do: %w", flag.ErrHelp)

// parseFlags parses the command line, and the config file it names with
// --config, into a config. --help goes to stderr and --print-config to
// stdout; both then return an error matching flag.ErrHelp. Other errors are
// one sentence each.
//
// Precedence, highest first: command line > config file > environment for
// the S3 credentials > defaults. The environment ($DFS_S3_ACCESS_KEY,
// $DFS_S3_SECRET_KEY) is read later, by store.ParseBackendURL, and only
// when neither the --backend URL nor --s3-access-key/--s3-secret-key (from
// either source) give the credentials; $GOMEMLIMIT replaces the memory limit
// run derives from --mem-cache and --max-dirty. Neither overrides a flag.
//
// The flag set is the one list of settings: the file's keys are the flag
// names, and its values go through the flags' own Set, so a value means the
// same in the file as on the command line and validate sees no difference.
func parseFlags(args []string, stdout, stderr io.Writer) (*config, error) {
	// First the command line alone: its syntax, --help, --config, and
	// which flags it sets.
	probe := newConfig()
	pfs := probe.flagSet(stderr)
	if err := pfs.Parse(args); err != nil {
		return nil, err
	}
	if pfs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (all options are flags; see dfsd --help)", pfs.Arg(0))
	}

	// Then the defaults, the file over them, and the command line over both.
	c := newConfig()
	fs := c.flagSet(io.Discard)
	set := map[string]bool{} // flags set by the file or the command line
	format := formatTOML
	if probe.configFile != "" {
		var err error
		var inFile []string
		if format, inFile, err = loadConfigFile(fs, probe.configFile); err != nil {
			return nil, err
		}
		for _, name := range inFile {
			set[name] = true
		}
	}
	pfs.Visit(func(f *flag.Flag) {
		set[f.Name] = true
		// A list on the command line replaces the file's.
		if l, ok := fs.Lookup(f.Name).Value.(*listFlag); ok {
			*l = nil
		}
	})
	if err := fs.Parse(args); err != nil {
		return nil, err // not reached: the same arguments parsed above
	}
	c.chunkSizeSet = set["chunk-size"]
	c.repairSet = set["repair-bandwidth"] || set["repair-concurrency"] || set["scrub-bandwidth"]
	if c.nodeName == "" {
		c.nodeName, _ = os.Hostname()
	}
	if c.showVersion {
		return c, nil
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.printConfig {
		if err := printConfig(stdout, fs, format, set); err != nil {
			return nil, fmt.Errorf("--print-config: %v", err)
		}
		return nil, errPrinted
	}
	if c.statusToken == "" {
		c.statusToken = os.Getenv("DFS_STATUS_TOKEN")
	}
	return c, nil
}

// newConfig is a config holding the defaults that are not in flagSet.
func newConfig() *config {
	return &config{
		chunkSize: 4 << 20,
		memCache:  64 << 20,
		diskCache: 1 << 30,
		maxDirty:  64 << 20,

		repairBandwidth: 50 << 20,
		scrubBandwidth:  8 << 20,
	}
}

// flagSet defines dfsd's flags on c. Usage and errors go to out.
func (c *config) flagSet(out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("dfsd", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usageHead)
		fs.PrintDefaults()
		fmt.Fprint(out, usageTail)
	}
	fs.StringVar(&c.configFile, "config", "", "read flags from this TOML or YAML `FILE` (.toml, .yaml or .yml): keys are the flag names;\n"+
		"flags given on the command line override it")
	fs.BoolVar(&c.printConfig, "print-config", false, "print the configuration dfsd would run with (defaults, --config file, flags) in the\n"+
		"config file's format (TOML without one), secrets hidden, and exit")
	fs.StringVar(&c.dataDir, "data", "", "data directory: metadata, lock, caches (required)")
	fs.StringVar(&c.mountpoint, "mount", "", "mount the filesystem at this empty directory")
	fs.StringVar(&c.backend, "backend", "", "chunk backend: dir:///abs/path (default DATA/chunks) or\n"+
		"s3://[KEY:SECRET@]host:port/bucket[/prefix]?tls=false&region=R&create=true&path_style=true")
	fs.StringVar(&c.s3AccessKey, "s3-access-key", "", "S3 access key (default: the --backend URL's, else $DFS_S3_ACCESS_KEY)")
	fs.StringVar(&c.s3SecretKey, "s3-secret-key", "", "S3 secret key (default: the --backend URL's, else $DFS_S3_SECRET_KEY; prefer the environment)")
	fs.Var(byteSize{&c.chunkSize}, "chunk-size", "chunk `SIZE` for a new filesystem: a power of two from 64KiB to 64MiB")
	fs.Var(byteSize{&c.memCache}, "mem-cache", "`SIZE` of the in-memory cache of verified chunks")
	fs.Var(byteSize{&c.diskCache}, "disk-cache", "`SIZE` of the on-disk chunk cache under DATA/cache (S3 backends only; 0 disables)")
	fs.Var(byteSize{&c.maxDirty}, "max-dirty", "`SIZE` of the memory for write buffers, all files together")
	fs.DurationVar(&c.entryTimeout, "entry-timeout", time.Second, "kernel cache time for names")
	fs.DurationVar(&c.attrTimeout, "attr-timeout", time.Second, "kernel cache time for attributes")
	fs.DurationVar(&c.gcGrace, "gc-grace", 10*time.Minute, "how long an unreferenced chunk is kept before it is deleted")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&c.debugFUSE, "debug-fuse", false, "log every FUSE request")
	fs.BoolVar(&c.allowOther, "allow-other", true, "let users other than the mounting one use the mount")
	fs.StringVar(&c.pprofAddr, "pprof", "", "serve Go profiles (net/http/pprof) on this loopback HOST:PORT")
	fs.BoolVar(&c.showVersion, "version", false, "print the version and exit")

	fs.StringVar(&c.nodeName, "name", "", "this node's name in the cluster: 1-64 of A-Z a-z 0-9 . _ - (default: the host name)")
	fs.StringVar(&c.gossipAddr, "addr", "0.0.0.0:7946", "gossip listen address IP:PORT (UDP and TCP)")
	fs.StringVar(&c.advertise, "advertise", "", "gossip address IP:PORT other nodes use (default: the --addr IP, or a private IP of this host)")
	fs.StringVar(&c.httpAddr, "http-addr", ":7948", "peer API and status listen address HOST:PORT")
	fs.Var(&c.join, "join", "gossip address `HOST:PORT` of a cluster member to join (repeatable or comma-separated)")
	fs.StringVar(&c.zone, "zone", "", "failure domain (rack, room) of this node, for placement")
	fs.Var(byteSize{&c.capacity}, "capacity", "`SIZE` of the storage this node offers (default: what the backend reports)")
	fs.StringVar(&c.keyFile, "cluster-key-file", "", "file holding the cluster key (dfsctl keygen); required to join or be joined")
	fs.Var(&c.webhooks, "alert-webhook", "`URL` that receives cluster-wide alerts as signed JSON (repeatable)")
	fs.StringVar(&c.clusterName, "cluster-name", "dfs", "the cluster's name, shown in status and alerts")
	fs.StringVar(&c.raftAddr, "raft-addr", "", "Raft listen address IP:PORT (default: the gossip IP, port 7947)")
	fs.IntVar(&c.bootstrapExpect, "bootstrap-expect", -1, "form a new cluster once this many nodes are up (default: 1 without --join, else 0:\n"+
		"wait to be added by the leader)")
	fs.IntVar(&c.replicas, "replicas", 3, "copies of each chunk, for a new cluster (1 to 7)")
	fs.IntVar(&c.capacityAlert, "capacity-alert", 85, "percent of this node's capacity in use above which capacity_high fires (0 disables)")
	fs.DurationVar(&c.underAlert, "under-replicated-alert", 5*time.Minute, "how long chunks may stay under-replicated before under_replicated fires (missing chunks fire chunks_missing at once)")
	fs.Var(byteSize{&c.repairBandwidth}, "repair-bandwidth", "chunk bytes per second that repair, rebalance and drain may send and fetch (`SIZE`; 0: unlimited)")
	fs.IntVar(&c.repairParallel, "repair-concurrency", 4, "chunks repair and rebalance work on at once")
	fs.Var(byteSize{&c.scrubBandwidth}, "scrub-bandwidth", "bytes per second the background scrub re-reads from the local backend (`SIZE`; 0: no background scrub)")
	fs.DurationVar(&c.downOut, "down-out", 10*time.Minute, "how long a node may be gone before it is taken out of Raft and of the placement layout")
	fs.DurationVar(&c.mutationTimeout, "mutation-timeout", 10*time.Second, "how long a metadata change waits for a Raft leader before it fails with EIO")
	fs.StringVar(&c.statusToken, "status-token", "", "token that lets other hosts read the status page at http://HTTP-ADDR/ (default: loopback only);\n"+
		"prefer $DFS_STATUS_TOKEN, used when this is empty: flags show in ps")
	fs.StringVar(&c.gossipProfile, "gossip-profile", "lan", "failure-detection timings: lan (a dead node is noticed in about 6s) or\n"+
		"test (about 1s; for many nodes on one host)")
	return fs
}

const usageHead = `Usage: dfsd --data DIR [--mount DIR] [--backend URL] [flags]
       dfsd --config FILE [flags]

dfsd serves a dfs filesystem: it keeps the namespace under --data, stores
file chunks in --backend, and mounts the filesystem at --mount.

Flags:
`

const usageTail = `
Config file: every flag but --config, --print-config and --version can be
set in the TOML (.toml) or YAML (.yaml, .yml) file named by --config, with
the flag's name as the key, a list for a repeatable flag, a size as "4MiB"
or a number of bytes, a duration as "10s", a boolean as true or false:

    data = "/var/lib/dfs"
    mount = "/mnt/dfs"
    backend = "s3://minio.internal:9000/dfs?tls=false"
    cluster-key-file = "/etc/dfs/cluster.key"
    join = ["10.0.0.1:7946", "10.0.0.2:7946"]
    chunk-size = "4MiB"
    gc-grace = "10m"
    allow-other = false

An unknown key, a key given twice or a bad value is refused with the file's
name and line. dfsd --print-config prints what dfsd would run with in the
same format, with "<hidden>" for each secret; it reads back with --config
(once the secrets are put back: dfsd refuses "<hidden>").

Precedence, highest first: the command line; the config file; the
environment, for the S3 credentials only ($DFS_S3_ACCESS_KEY and
$DFS_S3_SECRET_KEY, used when neither --s3-access-key and --s3-secret-key
nor the --backend URL give them); the defaults. $GOMEMLIMIT, if set,
replaces the memory limit dfsd derives from --mem-cache and --max-dirty.
`

func (c *config) validate() error {
	if c.dataDir == "" {
		return errors.New("--data is required: the directory where dfsd keeps its metadata")
	}
	cs := c.chunkSize
	if cs < 64<<10 || cs > 64<<20 || cs&(cs-1) != 0 {
		return fmt.Errorf("--chunk-size %s: must be a power of two from 64KiB to 64MiB", formatBytes(cs))
	}
	if c.maxDirty < 2*cs {
		return fmt.Errorf("--max-dirty %s: must be at least two chunks (%s)", formatBytes(c.maxDirty), formatBytes(2*cs))
	}
	if c.entryTimeout < 0 || c.attrTimeout < 0 || c.gcGrace < 0 {
		return errors.New("--entry-timeout, --attr-timeout and --gc-grace must not be negative")
	}
	switch c.logFormat {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format %q: must be text or json", c.logFormat)
	}
	if c.capacityAlert < 0 || c.capacityAlert > 100 {
		return fmt.Errorf("--capacity-alert %d: must be a percentage from 0 to 100", c.capacityAlert)
	}
	if c.replicas < 1 || c.replicas > 7 {
		return fmt.Errorf("--replicas %d: must be from 1 to 7", c.replicas)
	}
	if c.repairBandwidth < 0 || c.scrubBandwidth < 0 {
		return errors.New("--repair-bandwidth and --scrub-bandwidth must not be negative (0 means unlimited, or no background scrub)")
	}
	if c.repairParallel < 1 || c.repairParallel > 256 {
		return fmt.Errorf("--repair-concurrency %d: must be from 1 to 256", c.repairParallel)
	}
	if c.underAlert < 0 {
		return fmt.Errorf("--under-replicated-alert %v: must not be negative", c.underAlert)
	}
	if c.downOut <= 0 || c.mutationTimeout <= 0 {
		return errors.New("--down-out and --mutation-timeout must be positive")
	}
	if c.bootstrapExpect < -1 {
		return fmt.Errorf("--bootstrap-expect %d: must not be negative", c.bootstrapExpect)
	}
	if c.bootstrapExpect == -1 {
		c.bootstrapExpect = 1
		if len(c.join) > 0 {
			c.bootstrapExpect = 0
		}
	}
	switch c.gossipProfile {
	case "lan", "test":
	default:
		return fmt.Errorf("--gossip-profile %q: must be lan or test", c.gossipProfile)
	}
	if c.keyFile == "" && len(c.join) > 0 {
		return errors.New("--join needs --cluster-key-file: a cluster of more than one node must encrypt its gossip and sign its peer requests (create a key with dfsctl keygen)")
	}
	if c.keyFile == "" && len(c.webhooks) > 0 {
		return errors.New("--alert-webhook needs --cluster-key-file: webhook bodies are signed with a key derived from it")
	}
	switch c.logLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: must be debug, info, warn or error", c.logLevel)
	}
	return nil
}

// applyCredentialFlags lets --s3-access-key and --s3-secret-key override
// what the URL or the environment gave.
func applyCredentialFlags(spec *store.BackendSpec, c *config) {
	if !spec.Remote() {
		return
	}
	if c.s3AccessKey != "" {
		spec.S3.AccessKey = c.s3AccessKey
	}
	if c.s3SecretKey != "" {
		spec.S3.SecretKey = c.s3SecretKey
	}
}

// backendLocation is what DATA/format.json records: where the chunks are.
// The default backend is recorded as such, so the data directory can move.
func backendLocation(spec store.BackendSpec, c *config) string {
	if c.backend == "" {
		return "DATA/chunks"
	}
	return spec.Location()
}
