package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"
)

// runInfo is dfsctl info PATH: the file's size, and for each chunk the
// nodes that hold its replicas. PATH is a file in a dfs mount: its inode
// number (the namespace's, the same on every host) is what the node is
// asked about.
func runInfo(e *env, args []string) int {
	if len(args) != 1 {
		return e.usageError("info takes one PATH, a file in a dfs mount")
	}
	fi, err := os.Lstat(args[0])
	if err != nil {
		return e.fail(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return e.fail(fmt.Errorf("%s: no inode number", args[0]))
	}
	c, err := e.client()
	if err != nil {
		return e.fail(err)
	}
	info, err := c.FileInfo(context.Background(), st.Ino)
	if err != nil {
		return e.fail(err)
	}
	if e.json {
		if err := e.printJSON(info); err != nil {
			return e.fail(err)
		}
		return exitOK
	}
	fmt.Fprintf(e.stdout, "%s: inode %d, %s (%d bytes), %s\n", args[0], info.Ino, humanBytes(info.Size), info.Size,
		plural(len(info.Chunks), "chunk"))
	if info.Inline {
		fmt.Fprintln(e.stdout, "stored inline in the namespace (no chunks)")
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tCHUNK\tLEN\tREPLICAS")
	short := false
	for _, ch := range info.Chunks {
		var reps []string
		held, placed := 0, 0
		for _, r := range ch.Replicas {
			if r.Placed {
				placed++
			}
			switch {
			case r.Has:
				held++
				reps = append(reps, safe(r.Node))
			case r.Placed && r.Error != "":
				reps = append(reps, safe(r.Node)+"(?)")
			case r.Placed:
				reps = append(reps, safe(r.Node)+"(missing)")
			}
		}
		if held == 0 || held < placed {
			short = true
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", ch.Index, ch.ID[:16], humanBytes(uint64(ch.Len)), strings.Join(reps, " "))
	}
	tw.Flush()
	if short {
		fmt.Fprintln(e.stdout, "Some chunks have fewer copies than placed: repair adds them (dfsctl repair runs a pass now).")
		return exitDegraded
	}
	return exitOK
}
