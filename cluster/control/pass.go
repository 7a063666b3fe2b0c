package control

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Passes a node runs on demand (POST /v1/passes/NAME): "repair" checks
// and restores the replicas of the chunks this node looks after, "scrub"
// re-hashes its local chunks and replaces corrupt ones.
var Passes = []string{"repair", "scrub"}

const passPrefix = "/v1/passes/"

// PassReport is what a pass did.
type PassReport struct {
	Pass string `json:"pass"`
	// Chunks the pass examined; Copied copies it wrote; Deleted local
	// copies it removed; Failed operations that failed (logged).
	Chunks      int64 `json:"chunks"`
	Copied      int64 `json:"copied"`
	CopiedBytes int64 `json:"copied_bytes"`
	Deleted     int64 `json:"deleted"`
	Failed      int64 `json:"failed"`
	// Repair: chunks under-replicated and missing after the pass.
	UnderReplicated int64 `json:"under_replicated,omitempty"`
	Missing         int64 `json:"missing,omitempty"`
	// Scrub: corrupt local copies found, and of those the ones fixed.
	Corrupt int64         `json:"corrupt,omitempty"`
	Fixed   int64         `json:"fixed,omitempty"`
	Took    time.Duration `json:"took_ns"`
}

// PassLine is one line of a pass's answer: progress (Done of Total), then
// the final Report or Error.
type PassLine struct {
	Done   int64       `json:"done,omitempty"`
	Total  int64       `json:"total,omitempty"`
	Report *PassReport `json:"report,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// PassRunner is implemented by a Source that can run passes now.
type PassRunner interface {
	// RunPass runs the named pass (one of Passes), calling progress now
	// and then, never concurrently.
	RunPass(ctx context.Context, name string, progress func(done, total int64)) (PassReport, error)
}

// servePass runs a pass and streams its progress as JSON lines.
func (h *handler) servePass(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, passPrefix)
	runner, ok := h.src.(PassRunner)
	if !methodIs(w, r, http.MethodPost) {
		return
	}
	switch {
	case !knownPass(name):
		writeError(w, http.StatusNotFound, "no pass %.40q: the passes are %s", name, strings.Join(Passes, ", "))
		return
	case !ok:
		writeError(w, http.StatusNotImplemented, "this node runs no %s pass: it is not part of a cluster", name)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	send := func(l PassLine) {
		enc.Encode(l)
		if flusher != nil {
			flusher.Flush()
		}
	}
	var last time.Time
	rep, err := runner.RunPass(r.Context(), name, func(done, total int64) {
		if now := time.Now(); now.Sub(last) >= 200*time.Millisecond || done == total {
			last = now
			send(PassLine{Done: done, Total: total})
		}
	})
	if err != nil {
		send(PassLine{Error: err.Error()})
		return
	}
	rep.Pass = name
	send(PassLine{Report: &rep})
}

func knownPass(name string) bool {
	for _, p := range Passes {
		if p == name {
			return true
		}
	}
	return false
}

// RunPass asks the node to run the named pass now, calls progress with
// each progress line, and returns the pass's report. Only ctx bounds the
// pass (the client's Timeout bounds connecting).
func (c *Client) RunPass(ctx context.Context, name string, progress func(done, total int64)) (PassReport, error) {
	resp, err := c.do(ctx, http.MethodPost, passPrefix+name)
	if err != nil {
		return PassReport{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, maxAnswer))
	for sc.Scan() {
		var l PassLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return PassReport{}, fmt.Errorf("dfsd at %s answered a line that is not the expected JSON: %w", c.where(), err)
		}
		switch {
		case l.Error != "":
			return PassReport{}, fmt.Errorf("the %s pass on dfsd at %s failed: %s", name, c.where(), l.Error)
		case l.Report != nil:
			return *l.Report, nil
		case progress != nil:
			progress(l.Done, l.Total)
		}
	}
	if err := sc.Err(); err != nil {
		return PassReport{}, c.unreachable(err)
	}
	return PassReport{}, fmt.Errorf("dfsd at %s ended the %s pass without a report", c.where(), name)
}
