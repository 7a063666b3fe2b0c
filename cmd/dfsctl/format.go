package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/dfsproject/dfs/alerts"
	"github.com/dfsproject/dfs/cluster/control"
)

// alertTimeFormat is how alert times are shown, in local time.
const alertTimeFormat = "2006-01-02 15:04:05"

// textWriter prints dfsctl's text output and keeps the first write error.
type textWriter struct {
	w   io.Writer
	err error
}

func newTextWriter(w io.Writer) *textWriter { return &textWriter{w: w} }

func (t *textWriter) Write(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	n, err := t.w.Write(p)
	t.err = err
	return n, err
}

func (t *textWriter) println(s string) { fmt.Fprintln(t, s) }

// table returns a tabwriter over t; the caller flushes it.
func (t *textWriter) table() *tabwriter.Writer {
	return tabwriter.NewWriter(t, 0, 0, 2, ' ', 0)
}

// nodeTable prints one line per node; "last seen" is measured from now.
func (t *textWriter) nodeTable(nodes []control.NodeStatus, now time.Time) {
	tw := t.table()
	fmt.Fprintln(tw, "NAME\tSTATE\tMODE\tADDRESS\tZONE\tCAPACITY\tUSED\tUSE%\tLAST SEEN")
	for _, n := range nodes {
		name, seen := safe(n.Name), "-"
		if n.Local {
			name += "*"
		} else if !n.LastSeen.IsZero() {
			seen = ago(now.Sub(n.LastSeen))
		}
		capacity, used, pct := "-", "-", "-"
		if n.Capacity > 0 {
			capacity, used = humanBytes(n.Capacity), humanBytes(n.Used)
			pct = fmt.Sprintf("%.0f%%", n.UsedPercent)
		} else if n.Used > 0 {
			used = humanBytes(n.Used)
		}
		mode := n.Mode
		if n.Layout != "" && n.Layout != "active" {
			mode = n.Layout // draining or removed by an operator
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, orDash(n.State), orDash(mode),
			orDash(n.HTTPAddr), orDash(n.Zone), capacity, used, pct, seen)
	}
	tw.Flush()
}

// openAlerts prints the open alerts.
func (t *textWriter) openAlerts(evs []alerts.Event) {
	if len(evs) == 0 {
		t.println("No open alerts.")
		return
	}
	t.println("Open alerts:")
	tw := t.table()
	for _, ev := range evs {
		fmt.Fprintf(tw, "  %s\n", alertLine(ev, false))
	}
	tw.Flush()
}

// recentAlerts prints the last alert changes, asked for n of them.
func (t *textWriter) recentAlerts(evs []alerts.Event, n int) {
	if len(evs) == 0 {
		t.println("No recent alert changes.")
		return
	}
	fmt.Fprintf(t, "Recent alert changes (up to %d, oldest first):\n", n)
	tw := t.table()
	for _, ev := range evs {
		fmt.Fprintf(tw, "  %s\n", alertLine(ev, true))
	}
	tw.Flush()
}

// alertLine is one alert as tab-separated cells: time, (status,) severity,
// kind, node, reporter and the details sorted by key.
func alertLine(ev alerts.Event, withStatus bool) string {
	cells := []string{ev.Time.Local().Format(alertTimeFormat)}
	if withStatus {
		cells = append(cells, ev.Status())
	}
	cells = append(cells, orDash(string(ev.Severity)), orDash(string(ev.Kind)), orDash(ev.Node), "by "+orDash(ev.Reporter))
	keys := slices.Sorted(maps.Keys(ev.Details))
	if len(keys) > 0 {
		details := make([]string, len(keys))
		for i, k := range keys {
			details[i] = safe(k) + "=" + quoteIfNeeded(ev.Details[k])
		}
		cells = append(cells, strings.Join(details, " "))
	}
	return strings.Join(cells, "\t")
}

// humanBytes formats n bytes in binary units: "512 B", "1.5 GiB".
func humanBytes(n uint64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if s == "1024.0" && i < len(units)-1 { // rounded up into the next unit
		s, i = "1.0", i+1
	}
	return strings.TrimSuffix(s, ".0") + " " + units[i:i+1] + "iB"
}

// ago formats a duration in the past: "0.4s ago", "12s ago", "3m ago",
// "5h ago", "2d ago".
func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "0s ago"
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs ago", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// orDash is safe(s), or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return safe(s)
}

// safe returns s quoted when it holds anything but printable characters and
// spaces, so that what other nodes report cannot move the cursor, change
// the terminal's state or break the table.
func safe(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r != ' ' && !unicode.IsGraphic(r) }) < 0 {
		return s
	}
	return strconv.Quote(s)
}

// quoteIfNeeded quotes a detail value that is empty or holds a space, a
// quote, an equals sign or anything unprintable.
func quoteIfNeeded(s string) string {
	if s == "" || strings.IndexFunc(s, func(r rune) bool {
		return r == ' ' || r == '"' || r == '=' || !unicode.IsGraphic(r)
	}) >= 0 {
		return strconv.Quote(s)
	}
	return s
}
