package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/dfsproject/dfs/cluster/control"
)

// runPass returns the run function of dfsctl repair and dfsctl scrub: ask
// the node to run the pass now, show a progress bar on a terminal (or,
// with --json, print each progress line and the report as JSON lines),
// then a summary. Exit 0 when the pass ran and left nothing missing or
// corrupt, 1 when it did not, 2 when it could not run.
func runPass(name string) func(*env, []string) int {
	return func(e *env, args []string) int {
		if !e.noArgs(name, args) {
			return exitError
		}
		c, err := e.client()
		if err != nil {
			return e.fail(err)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		tty := !e.json && isTerminal(e.stderr)
		begin := time.Now()
		enc := json.NewEncoder(e.stdout)
		rep, err := c.RunPass(ctx, name, func(done, total int64) {
			switch {
			case e.json:
				enc.Encode(control.PassLine{Done: done, Total: total})
			case tty:
				fmt.Fprintf(e.stderr, "\r%s", progressBar(name, "chunk", 0, done, total, time.Since(begin)))
			}
		})
		if tty {
			fmt.Fprintln(e.stderr)
		}
		if err != nil {
			return e.fail(err)
		}
		if e.json {
			enc.Encode(control.PassLine{Report: &rep})
		} else {
			fmt.Fprintln(e.stdout, passSummary(rep))
		}
		if rep.Missing > 0 || rep.Corrupt > rep.Fixed || rep.Failed > 0 {
			return exitDegraded
		}
		return exitOK
	}
}

// passSummary is one line: "repair: 24 chunks checked in 0.3s, 3 copies
// written (12 MiB), 0 under-replicated, 0 missing, 0 failed".
func passSummary(r control.PassReport) string {
	s := fmt.Sprintf("%s: %d chunks checked in %v, %d copies written (%s), %d deleted",
		r.Pass, r.Chunks, r.Took.Round(time.Millisecond), r.Copied, humanBytes(uint64(r.CopiedBytes)), r.Deleted)
	switch r.Pass {
	case "repair":
		s += fmt.Sprintf(", %d under-replicated, %d missing", r.UnderReplicated, r.Missing)
	case "scrub":
		s += fmt.Sprintf(", %d corrupt, %d fixed", r.Corrupt, r.Fixed)
	}
	return s + fmt.Sprintf(", %d failed", r.Failed)
}
