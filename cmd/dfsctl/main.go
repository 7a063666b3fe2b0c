package main

import (
	"fmt"
	"io"
	"os"

	"github.com/dfsproject/dfs/cluster"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Usage: dfsctl COMMAND

Commands:
  keygen    print a new cluster key (32 random bytes, base64) for --cluster-key-file
  version   print the version of dfsctl
  help      print this help
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "dfsctl %s\n", version)
		return 0
	case "keygen":
		if len(args) > 1 {
			fmt.Fprintf(stderr, "dfsctl: keygen takes no arguments\n")
			return 2
		}
		key, err := cluster.GenerateKey()
		if err != nil {
			fmt.Fprintf(stderr, "dfsctl: cannot generate a key: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, cluster.EncodeKey(key))
		return 0
	case "help", "--help", "-h", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "dfsctl: unknown command %q\n%s", args[0], usage)
		return 2
	}
}
