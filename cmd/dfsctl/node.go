package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/dfsproject/dfs/cluster/control"
)

// setupNode registers dfsctl node's flags: --force lets remove go ahead
// though chunks would be left with fewer than R copies, or drain though
// too few active nodes would be left; --wait makes drain wait until the
// node holds nothing.
func setupNode(fs *flag.FlagSet) func(*env, []string) int {
	force := fs.Bool("force", false, "remove even if chunks are left with fewer copies; drain even with too few active nodes")
	wait := fs.Bool("wait", false, "after drain, wait until the node holds nothing")
	return func(e *env, args []string) int {
		// Flags may also follow the action and the name.
		var pos []string
		for len(args) > 0 {
			if strings.HasPrefix(args[0], "-") && args[0] != "-" {
				if err := fs.Parse(args); err != nil {
					return e.flagError(err)
				}
				args = fs.Args()
				continue
			}
			pos, args = append(pos, args[0]), args[1:]
		}
		args = pos
		if len(args) != 2 || !slices.Contains(control.NodeActions, args[0]) {
			return e.usageError("node takes an action (%s) and a node name", strings.Join(control.NodeActions, ", "))
		}
		return runNode(e, args[0], args[1], *force, *wait)
	}
}

// runNode applies the action through the node dfsctl talks to. Exit 0
// when done, 2 when refused (the sentence says why) or it failed.
func runNode(e *env, action, name string, force, wait bool) int {
	c, err := e.client()
	if err != nil {
		return e.fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := c.NodeAction(ctx, name, action, force)
	if errors.Is(err, control.ErrRefused) {
		return e.fail(fmt.Errorf("node %s %s refused: %w", action, name, err))
	}
	if err != nil {
		return e.fail(err)
	}
	if e.json {
		if err := e.printJSON(res); err != nil {
			return e.fail(err)
		}
	} else {
		fmt.Fprintf(e.stdout, "%s (layout v%d)\n", res.Message, res.LayoutVersion)
	}
	if wait && action == "drain" {
		return waitDrained(ctx, e, c, name)
	}
	return exitOK
}

// waitDrained polls the leader's replication sum until the node holds no
// chunk any more, printing its progress.
func waitDrained(ctx context.Context, e *env, c *control.Client, name string) int {
	tty := !e.json && isTerminal(e.stderr)
	begin := time.Now()
	var first int64 = -1
	for {
		cr, err := c.Replication(ctx)
		if err == nil {
			for _, n := range cr.Nodes {
				if n.Node != name || n.Health == nil || n.Health.CheckedAt.Before(begin) {
					continue
				}
				held := n.Health.Held
				if first < 0 {
					first = held
				}
				if tty {
					fmt.Fprintf(e.stderr, "\r%s", progressBar("drain", "chunk", 0, first-held, first, time.Since(begin)))
				}
				if held == 0 {
					if tty {
						fmt.Fprintln(e.stderr)
					}
					fmt.Fprintf(e.stdout, "%s holds nothing any more (%v); remove it with dfsctl node remove %s\n", name, time.Since(begin).Round(time.Second), name)
					return exitOK
				}
			}
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(e.stderr)
			}
			return e.fail(fmt.Errorf("stopped waiting: %s still holds chunks; dfsctl status shows the progress", name))
		case <-time.After(time.Second):
		}
	}
}
