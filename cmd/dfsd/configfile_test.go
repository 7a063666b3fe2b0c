package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dfsproject/dfs/store"
)

// parse runs parseFlags on args and fails the test on an error.
func parse(t *testing.T, args ...string) *config {
	t.Helper()
	var stderr bytes.Buffer
	c, err := parseFlags(args, io.Discard, &stderr)
	if err != nil {
		t.Fatalf("parseFlags(%q): %v\n%s", args, err, stderr.String())
	}
	return c
}

// parseErr runs parseFlags on args and returns its error, failing the test
// if there is none.
func parseErr(t *testing.T, args ...string) error {
	t.Helper()
	c, err := parseFlags(args, io.Discard, io.Discard)
	if err == nil {
		t.Fatalf("parseFlags(%q) = %+v, want an error", args, *c)
	}
	return err
}

// writeFile writes content to a file name in a new temporary directory and
// returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sameConfig fails the test unless got and want hold the same settings
// (which file they came from aside).
func sameConfig(t *testing.T, got, want *config) {
	t.Helper()
	g, w := *got, *want
	g.configFile, w.configFile = "", ""
	g.printConfig, w.printConfig = false, false
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("config differs:\n got %+v\nwant %+v", g, w)
	}
}

func TestConfigFileGood(t *testing.T) {
	// The same settings as testdata/good.toml and good.yaml, as flags.
	want := parse(t, "--data", "/var/lib/dfs", "--mount", "/mnt/dfs", "--log-level", "debug",
		"--chunk-size", "1MiB", "--mem-cache", "128MiB", "--disk-cache", "0",
		"--gc-grace", "90m", "--entry-timeout", "0.5s", "--allow-other=false", "--debug-fuse",
		"--replicas", "2", "--bootstrap-expect", "0", "--join", "10.0.0.1:7946", "--join", "10.0.0.2:7946",
		"--alert-webhook", "https://alerts.example.com/dfs", "--cluster-key-file", "/etc/dfs/cluster.key",
		"--name", "node-1", "--zone", "rack-2", "--capacity", "2TiB")
	for _, file := range []string{"testdata/good.toml", "testdata/good.yaml"} {
		t.Run(filepath.Ext(file), func(t *testing.T) {
			c := parse(t, "--config", file)
			if c.configFile != file {
				t.Errorf("configFile = %q, want %q", c.configFile, file)
			}
			// A few fields by hand, in case flags and file were both wrong.
			if c.dataDir != "/var/lib/dfs" || c.memCache != 128<<20 || c.gcGrace != 90*time.Minute ||
				c.entryTimeout != 500*time.Millisecond || c.allowOther || !c.debugFUSE || c.replicas != 2 ||
				!reflect.DeepEqual([]string(c.join), []string{"10.0.0.1:7946", "10.0.0.2:7946"}) ||
				!reflect.DeepEqual([]string(c.webhooks), []string{"https://alerts.example.com/dfs"}) ||
				c.capacity != 2<<40 || !c.chunkSizeSet {
				t.Errorf("%s gave %+v", file, *c)
			}
			sameConfig(t, c, want)
		})
	}
}

func TestConfigFileYAMLPlainScalars(t *testing.T) {
	// A string flag takes an unquoted YAML scalar as written, even one
	// YAML reads as a number.
	path := writeFile(t, "dfsd.yml", "data: /d\nzone: 007\ncluster-name: 1.5\nname: yes\n")
	c := parse(t, "--config", path)
	if c.zone != "007" || c.clusterName != "1.5" || c.nodeName != "yes" {
		t.Fatalf("zone %q, cluster-name %q, name %q; want 007, 1.5, yes", c.zone, c.clusterName, c.nodeName)
	}
}

func TestConfigFileEmpty(t *testing.T) {
	for _, name := range []string{"dfsd.toml", "dfsd.yaml", "comments.yaml"} {
		content := ""
		if name == "comments.yaml" {
			content = "# nothing set\n"
		}
		c := parse(t, "--config", writeFile(t, name, content), "--data", "/d")
		sameConfig(t, c, parse(t, "--data", "/d"))
	}
}

func TestConfigFileRefused(t *testing.T) {
	cases := []struct {
		name, file, content string
		want                string // the error after "PATH:"
	}{
		{"unknown key", "dfsd.toml", "data = \"/d\"\n\nmout = \"/m\"\n",
			`3:1: unknown key "mout" (did you mean "mount"?)`},
		{"unknown key yaml", "dfsd.yaml", "data: /d\n  # indented comment\nlog_level: debug\n",
			`3:1: unknown key "log_level" (did you mean "log-level"?)`},
		{"capitals", "dfsd.toml", "Mount = \"/m\"\n", `1:1: unknown key "Mount" (did you mean "mount"?)`},
		{"unknown key far from any", "dfsd.toml", "data = \"/d\"\nfrobnicate = 1\n",
			`2:1: unknown key "frobnicate" (the keys are dfsd's flag names, listed by dfsd --help)`},
		{"dotted key", "dfsd.toml", "data.dir = \"/d\"\n", `1:1: unknown key "data.dir" (did you mean "data"?)`},
		{"bad size toml", "dfsd.toml", "data = \"/d\"\nchunk-size = \"4XB\"\n",
			`2:14: chunk-size: "4XB" is not a size (use bytes or a unit: 64KiB, 4MiB, 1GiB)`},
		{"bad size yaml", "dfsd.yaml", "data: /d\n\nchunk-size: 4XB\n",
			`3:13: chunk-size: "4XB" is not a size (use bytes or a unit: 64KiB, 4MiB, 1GiB)`},
		{"negative size", "dfsd.toml", "mem-cache = -1\n", `1:13: mem-cache: "-1" is not a size (use bytes or a unit: 64KiB, 4MiB, 1GiB)`},
		{"size as float", "dfsd.toml", "mem-cache = 1.5\n", `1:13: mem-cache: want a size, like "4MiB" or a number of bytes, not 1.5 (a number with a fraction)`},
		{"duplicate toml", "dfsd.toml", "data = \"/d\"\nmount = \"/m\"\nmount = \"/n\"\n",
			`3:1: key "mount" is given twice (first on line 2)`},
		{"duplicate yaml", "dfsd.yaml", "data: /d\nmount: /m\nmount: /n\n", `3:1: key "mount" is given twice (first on line 2)`},
		{"bool as string", "dfsd.toml", "allow-other = \"no\"\n", `1:15: allow-other: want true or false, not "no"`},
		{"yaml yes is not a bool", "dfsd.yaml", "debug-fuse: yes\n", `1:13: debug-fuse: want true or false, not "yes"`},
		{"int as string", "dfsd.toml", "replicas = \"3\"\n", `1:12: replicas: want a whole number, not "3"`},
		{"int too large", "dfsd.toml", "replicas = 99999999999999999999\n", `1:12: replicas: want a whole number, not 99999999999999999999 (a number too large)`},
		{"duration without unit", "dfsd.toml", "gc-grace = 600\n", `1:12: gc-grace: 600 has no unit: write a duration as a string, like "10s" or "5m"`},
		{"bad duration", "dfsd.yaml", "down-out: ten minutes\n", `1:11: down-out: "ten minutes" is not a duration (use a number and a unit: 500ms, 10s, 5m, 1h)`},
		{"list for one value", "dfsd.toml", "mount = [\"/a\", \"/b\"]\n", `1:10: mount: takes one value, not a list`},
		{"number in a list", "dfsd.toml", "join = [\"a:1\",\n  7946]\n", `2:3: join: want a string or a list of strings, not 7946`},
		{"list in a list", "dfsd.yaml", "join:\n  - [a, b]\n", `2:5: join: want a string or a list of strings, not a list inside a list`},
		{"secret not repeated", "dfsd.toml", "s3-secret-key = 123456\n", `1:17: s3-secret-key: want the secret key as a string in quotes (the value is not repeated here)`},
		{"string for a string flag", "dfsd.toml", "zone = 3\n", `1:8: zone: want a string, not 3`},
		{"yaml null", "dfsd.yaml", "data: /d\nmount:\n", `2:7: mount: no value: give one, or remove the key to keep the default`},
		{"yaml mapping value", "dfsd.yaml", "data:\n  dir: /d\n", `2:3: data: want a string, not a mapping`},
		{"toml inline table", "dfsd.toml", "data = { dir = \"/d\" }\n", `1:8: data: want a string, not a table`},
		{"toml date", "dfsd.toml", "zone = 2024-01-01\n", `1:8: zone: want a string, not 2024-01-01 (a date or time)`},
		{"toml table", "dfsd.toml", "data = \"/d\"\n[cluster]\njoin = [\"a:1\"]\n",
			`2:2: dfsd's config has no tables: put every key at the top level, not under [cluster]`},
		{"config in config", "dfsd.toml", "config = \"/etc/other.toml\"\n",
			`1:1: a config file cannot name another: give --config on the command line`},
		{"version in config", "dfsd.yaml", "version: true\n",
			`1:1: version is something to do, not a setting: give --version on the command line`},
		{"hidden secret", "dfsd.toml", "data = \"/d\"\ns3-secret-key = \"<hidden>\"\n",
			`2:17: s3-secret-key: "<hidden>" stands for a secret that dfsd --print-config did not print: put the real value here, or remove the line and set $DFS_S3_SECRET_KEY`},
		{"hidden in a URL", "dfsd.toml", "backend = \"s3://ak:<hidden>@h:9000/b\"\n",
			`1:11: backend: "<hidden>" stands for a secret that dfsd --print-config did not print: put the real value here`},
		{"toml syntax", "dfsd.toml", "data = \"/d\n", `1:11: not valid TOML: basic strings cannot have new lines`},
		{"yaml syntax", "dfsd.yaml", "data: /d\nmount: [a\n", `2: not valid YAML: did not find expected ',' or ']'`},
		{"yaml syntax on line 1", "dfsd.yaml", "- a\nb: c\n", `2: not valid YAML: did not find expected '-' indicator`},
		{"yaml scanner error", "dfsd.yaml", "data: /d\nmount: /m\n  zone: x\n", `3: not valid YAML: mapping values are not allowed in this context`},
		{"near a prefix", "dfsd.toml", "data-dir = \"/d\"\n", `1:1: unknown key "data-dir" (did you mean "data"?)`},
		{"a prefix", "dfsd.toml", "s3-secret = \"x\"\n", `1:1: unknown key "s3-secret" (did you mean "s3-secret-key"?)`},
		{"yaml not a mapping", "dfsd.yaml", "- data\n- /d\n", `1:1: want a mapping of flag names to values, like "data: /var/lib/dfs"`},
		{"two yaml documents", "dfsd.yaml", "data: /d\n---\nmount: /m\n", `2:1: a second YAML document: a config file holds one mapping of flag names to values`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.file, tc.content)
			err := parseErr(t, "--config", path)
			if got, want := err.Error(), path+":"+tc.want; got != want {
				t.Fatalf("error:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestConfigFileThenValidate(t *testing.T) {
	// A value that parses but is out of range is refused by validate, as
	// the same flag would be.
	path := writeFile(t, "dfsd.toml", "data = \"/d\"\nreplicas = 9\n")
	if err := parseErr(t, "--config", path); err.Error() != "--replicas 9: must be from 1 to 7" {
		t.Fatalf("error %q, want validate's", err)
	}
	path = writeFile(t, "dfsd.yaml", "data: /d\njoin: [10.0.0.1:7946]\n")
	if err := parseErr(t, "--config", path); !strings.HasPrefix(err.Error(), "--join needs --cluster-key-file") {
		t.Fatalf("error %q, want validate's about the cluster key", err)
	}
}

func TestConfigFileNotReadable(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, path, want string
	}{
		{"wrong extension", filepath.Join(dir, "dfsd.conf"),
			"dfsd reads TOML or YAML and tells them by the extension: name the file .toml, .yaml or .yml"},
		{"no extension", filepath.Join(dir, "dfsd"),
			"dfsd reads TOML or YAML and tells them by the extension: name the file .toml, .yaml or .yml"},
		{"missing", filepath.Join(dir, "nope.toml"), "the file does not exist"},
		{"a directory", dir + "/.toml", "cannot read the file: is a directory"},
	}
	if err := os.Mkdir(filepath.Join(dir, ".toml"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The wrong extension is refused before the file is read: it exists.
	if err := os.WriteFile(filepath.Join(dir, "dfsd.conf"), []byte("data = \"/d\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := parseErr(t, "--config", tc.path)
			if want := "--config " + tc.path + ": " + tc.want; err.Error() != want {
				t.Fatalf("error:\n got %s\nwant %s", err, want)
			}
		})
	}
}

func TestConfigPrecedence(t *testing.T) {
	path := writeFile(t, "dfsd.toml", `data = "/file/data"
log-level = "debug"
cluster-key-file = "/file/key"
join = ["10.0.0.1:7946", "10.0.0.2:7946"]
alert-webhook = ["https://file.example/a"]
chunk-size = "1MiB"
`)
	t.Run("command line over file", func(t *testing.T) {
		// --config after the flags that override it: the order does not matter.
		c := parse(t, "--log-level", "warn", "--join", "10.9.9.9:7946", "--config", path)
		if c.logLevel != "warn" {
			t.Errorf("log-level %q, want the command line's warn", c.logLevel)
		}
		if !reflect.DeepEqual([]string(c.join), []string{"10.9.9.9:7946"}) {
			t.Errorf("join %q, want only the command line's", c.join)
		}
	})
	t.Run("file over defaults", func(t *testing.T) {
		c := parse(t, "--config", path, "--log-level", "error")
		if c.dataDir != "/file/data" || c.keyFile != "/file/key" || c.chunkSize != 1<<20 || !c.chunkSizeSet ||
			!reflect.DeepEqual([]string(c.join), []string{"10.0.0.1:7946", "10.0.0.2:7946"}) ||
			!reflect.DeepEqual([]string(c.webhooks), []string{"https://file.example/a"}) {
			t.Errorf("the file's values were not kept: %+v", *c)
		}
		if c.replicas != 3 || c.logFormat != "text" || c.gcGrace != 10*time.Minute {
			t.Errorf("defaults lost: replicas %d, log-format %q, gc-grace %v", c.replicas, c.logFormat, c.gcGrace)
		}
	})
	t.Run("a list flag repeated on the command line", func(t *testing.T) {
		c := parse(t, "--config", path, "--alert-webhook", "https://cmd.example/1", "--alert-webhook", "https://cmd.example/2,https://cmd.example/3")
		want := []string{"https://cmd.example/1", "https://cmd.example/2", "https://cmd.example/3"}
		if !reflect.DeepEqual([]string(c.webhooks), want) {
			t.Errorf("alert-webhook %q, want %q", c.webhooks, want)
		}
	})
	t.Run("chunk size not given", func(t *testing.T) {
		if c := parse(t, "--data", "/d"); c.chunkSizeSet {
			t.Error("chunkSizeSet without --chunk-size in the file or on the command line")
		}
	})
}

func TestConfigS3CredentialsOverEnvironment(t *testing.T) {
	t.Setenv(store.EnvS3AccessKey, "env-access")
	t.Setenv(store.EnvS3SecretKey, "env-secret")
	backendCreds := func(t *testing.T, args ...string) (string, string) {
		t.Helper()
		c := parse(t, args...)
		spec, err := store.ParseBackendURL(c.backend, c.dataDir)
		if err != nil {
			t.Fatal(err)
		}
		applyCredentialFlags(&spec, c)
		return spec.S3.AccessKey, spec.S3.SecretKey
	}
	withKeys := writeFile(t, "dfsd.toml", "data = \"/d\"\nbackend = \"s3://127.0.0.1:9000/bucket\"\ns3-access-key = \"file-access\"\ns3-secret-key = \"file-secret\"\n")
	withoutKeys := writeFile(t, "dfsd.yaml", "data: /d\nbackend: s3://127.0.0.1:9000/bucket\n")
	cases := []struct {
		name           string
		args           []string
		access, secret string
	}{
		{"file over environment", []string{"--config", withKeys}, "file-access", "file-secret"},
		{"command line over file", []string{"--config", withKeys, "--s3-secret-key", "cmd-secret"}, "file-access", "cmd-secret"},
		{"environment when neither gives them", []string{"--config", withoutKeys}, "env-access", "env-secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if a, s := backendCreds(t, tc.args...); a != tc.access || s != tc.secret {
				t.Fatalf("credentials %q/%q, want %q/%q", a, s, tc.access, tc.secret)
			}
		})
	}
}

// printed runs parseFlags with --print-config added to args and returns
// what it printed.
func printed(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	c, err := parseFlags(append(args, "--print-config"), &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) || c != nil {
		t.Fatalf("parseFlags(%q) = %v, %v; want nil, an error matching flag.ErrHelp\n%s", args, c, err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("--print-config wrote to stderr: %s", stderr.String())
	}
	return stdout.String()
}

func TestPrintConfigRoundTrip(t *testing.T) {
	// Every flag given, none secret, all away from their defaults, in
	// the file and on the command line, with characters that need quoting.
	file := writeFile(t, "base.toml", "data = \"/var/lib/dfs \\\"quoted\\\"\"\nzone = \"rack\\t1\"\nreplicas = 5\n")
	args := []string{"--config", file,
		"--mount", "/mnt/dfs", "--backend", "s3://minio:9000/bucket/prefix?tls=false&region=eu",
		"--chunk-size", "8MiB", "--mem-cache", "100000", "--disk-cache", "3GiB", "--max-dirty", "96MiB",
		"--entry-timeout", "2s", "--attr-timeout", "1500ms", "--gc-grace", "1h2m3s",
		"--log-format", "json", "--log-level", "warn", "--debug-fuse", "--allow-other=false", "--pprof", "127.0.0.1:6060",
		"--name", "node-7", "--addr", "10.0.0.7:7000", "--advertise", "10.0.0.7:7000", "--http-addr", "10.0.0.7:7001",
		"--join", "10.0.0.1:7000,10.0.0.2:7000", "--capacity", "1TiB", "--cluster-key-file", "/etc/dfs/key",
		"--alert-webhook", "https://alerts.example.com/dfs", "--cluster-name", "prod", "--raft-addr", "10.0.0.7:7002",
		"--bootstrap-expect", "0", "--down-out", "30m", "--under-replicated-alert", "2m", "--repair-bandwidth", "20MiB", "--repair-concurrency", "8", "--scrub-bandwidth", "1MiB", "--mutation-timeout", "20s", "--gossip-profile", "test", "--capacity-alert", "90",
		"--s3-access-key", "not-a-secret"}
	want := parse(t, args...)
	for _, format := range []string{"toml", "yaml"} {
		t.Run(format, func(t *testing.T) {
			args := args
			if format == "yaml" {
				// The format of --config's file is the format printed.
				yamlFile := writeFile(t, "base.yaml", "data: \"/var/lib/dfs \\\"quoted\\\"\"\nzone: \"rack\\t1\"\nreplicas: 5\n")
				args = append([]string{}, args...)
				args[1] = yamlFile
			}
			out := printed(t, args...)
			// Every key set but the two secrets (the S3 secret key and the
			// status token), which are left out.
			set, settable := 0, -len(notInFile)
			newConfig().flagSet(io.Discard).VisitAll(func(*flag.Flag) { settable++ })
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if !strings.HasPrefix(line, "#") {
					set++
				}
			}
			if sep := map[string]string{"toml": " = ", "yaml": ": "}[format]; set != settable-2 || strings.Contains(out, "<hidden>") ||
				!strings.Contains(out, "\n# s3-secret-key"+sep+"\"\"\n") || !strings.Contains(out, "\n# status-token"+sep+"\"\"\n") {
				t.Fatalf("want %d keys set, all but s3-secret-key and status-token, nothing hidden; got %d:\n%s", settable-2, set, out)
			}
			path := writeFile(t, "printed."+format, out)
			got := parse(t, "--config", path)
			sameConfig(t, got, want)
			if again := printed(t, "--config", path); again != out {
				t.Fatalf("printing the printed file gives another file:\n%s\nwas:\n%s", again, out)
			}
		})
	}
}

func TestPrintConfigDefaults(t *testing.T) {
	// Flags left at their defaults are printed commented out, so that
	// reading the output back leaves them unset: a chunk size not given
	// must stay not given (an existing filesystem keeps its own), and the
	// node name stays the host's.
	out := printed(t, "--data", "/d")
	for _, line := range []string{"data = \"/d\"\n", "# chunk-size = \"4MiB\"\n", "# gc-grace = \"10m\"\n",
		"# allow-other = true\n", "# join = []\n", "# replicas = 3\n", "# capacity = 0\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	for _, key := range []string{"config", "print-config", "version"} {
		if strings.Contains(out, "\n"+key+" =") || strings.Contains(out, "# "+key+" =") {
			t.Errorf("output sets %s, which a config file cannot:\n%s", key, out)
		}
	}
	c := parse(t, "--config", writeFile(t, "printed.toml", out))
	if c.chunkSizeSet {
		t.Error("reading the printed defaults back set the chunk size explicitly")
	}
	sameConfig(t, c, parse(t, "--data", "/d"))
}

func TestPrintConfigHidesSecrets(t *testing.T) {
	const secret = "s3cr3t-Value"
	file := writeFile(t, "dfsd.yaml", "data: /d\ns3-secret-key: "+secret+"\ncluster-key-file: /etc/dfs/cluster.key\n")
	out := printed(t, "--config", file, "--status-token", secret+"-status",
		"--backend", "s3://AKIA:"+secret+"@minio:9000/b?tls=false",
		"--cluster-key-file", "/etc/dfs/cluster.key",
		"--alert-webhook", "https://hooks.slack.com/services/T0000/B0000/XyZ"+secret+"123",
		"--alert-webhook", "https://user:"+secret+"@alerts.example.com/dfs?token="+secret+"&channel=ops")
	if strings.Contains(out, secret) {
		t.Fatalf("--print-config printed a secret:\n%s", out)
	}
	for _, line := range []string{
		"s3-secret-key: \"<hidden>\"\n",
		"status-token: \"<hidden>\"\n",
		"backend: \"s3://AKIA:<hidden>@minio:9000/b?tls=false\"\n",
		"cluster-key-file: \"/etc/dfs/cluster.key\"\n", // a path, not a secret
		`alert-webhook: ["https://hooks.slack.com/services/T0000/B0000/<hidden>", "https://user:<hidden>@alerts.example.com/dfs?token=<hidden>&channel=ops"]` + "\n",
		"# <hidden> stands for a secret",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	// Read back, the output is refused where a secret is missing.
	path := writeFile(t, "printed.yaml", out)
	err := parseErr(t, "--config", path)
	if !strings.Contains(err.Error(), `"<hidden>" stands for a secret that dfsd --print-config did not print`) {
		t.Fatalf("reading back hidden secrets: %v", err)
	}
}

func TestHideInURL(t *testing.T) {
	cases := []struct {
		in      string
		webhook bool
		want    string
	}{
		{"s3://minio:9000/b?tls=false", false, "s3://minio:9000/b?tls=false"},
		{"s3://ak:sk@minio:9000/b", false, "s3://ak:<hidden>@minio:9000/b"},
		{"s3://ak:s%40k@minio", false, "s3://ak:<hidden>@minio"},
		{"dir:///var/lib/dfs/chunks", false, "dir:///var/lib/dfs/chunks"},
		{"not a url", false, "not a url"},
		// A backend's path is not hidden, however it looks.
		{"s3://minio/bucket/Abcdef0123456789", false, "s3://minio/bucket/Abcdef0123456789"},
		{"https://alerts.example.com/dfs-production-alerts", true, "https://alerts.example.com/dfs-production-alerts"},
		{"https://discord.com/api/webhooks/123456789012345678/AbC-dEf_123456789xyz", true,
			"https://discord.com/api/webhooks/123456789012345678/<hidden>"},
		{"https://x.example/h?apiKey=1&Signature=2&page=3#top", true, "https://x.example/h?apiKey=<hidden>&Signature=<hidden>&page=3#top"},
		{"https://u@x.example/h", true, "https://u@x.example/h"},
	}
	for _, tc := range cases {
		got, hidden := hideInURL(tc.in, tc.webhook)
		if got != tc.want || hidden != (got != tc.in) {
			t.Errorf("hideInURL(%q, %v) = %q, %v; want %q", tc.in, tc.webhook, got, hidden, tc.want)
		}
	}
}

func TestConfigExampleFile(t *testing.T) {
	const path = "testdata/dfsd.example.toml"
	c := parse(t, "--config", path)
	if c.dataDir != "/var/lib/dfs" || c.mountpoint != "/mnt/dfs" || c.keyFile != "/etc/dfs/cluster.key" ||
		len(c.join) != 2 || c.bootstrapExpect != 3 || c.diskCache != 20<<30 || c.logFormat != "json" {
		t.Fatalf("%s gave %+v", path, *c)
	}
	if c.s3AccessKey != "" || c.s3SecretKey != "" {
		t.Errorf("the example should leave the S3 keys to the environment")
	}
	// It reads back through --print-config too.
	sameConfig(t, parse(t, "--config", writeFile(t, "printed.toml", printed(t, "--config", path))), c)
}

func TestConfigEveryFlagHasAKind(t *testing.T) {
	// A flag of a type the config file does not know would be set from
	// its string form only; give it a kind in kindOf.
	fs := newConfig().flagSet(io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		if kindOf(f) == kindOther {
			t.Errorf("flag --%s has a flag.Value of type %T that kindOf does not know", f.Name, f.Value)
		}
	})
}

func TestRunConfigExitStatus(t *testing.T) {
	// Through run, as the binary: a refused file is one line and status 2;
	// --print-config writes to stdout and exits 0.
	bad := writeFile(t, "dfsd.toml", "data = \"/d\"\nmout = \"/m\"\n")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--config", bad}, &stdout, &stderr); code != 2 {
		t.Errorf("exit status %d, want 2", code)
	}
	if want := "dfsd: " + bad + `:2:1: unknown key "mout" (did you mean "mount"?)` + "\n"; stderr.String() != want || stdout.Len() > 0 {
		t.Errorf("stderr %q, stdout %q; want stderr %q", stderr.String(), stdout.String(), want)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"--data", "/d", "--print-config"}, &stdout, &stderr); code != 0 {
		t.Errorf("--print-config: exit status %d, want 0; stderr %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "\ndata = \"/d\"\n") || stderr.Len() > 0 {
		t.Errorf("--print-config: stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}
