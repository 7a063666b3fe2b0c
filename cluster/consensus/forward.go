package consensus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/dfsproject/dfs/cluster/peer"
	"github.com/dfsproject/dfs/store/meta"
)

// Routes of the forwarding API, served on the node's HTTP address (signed
// like every peer request):
//
//	POST /v1/raft/apply      body: an encoded meta.Cmd → 200 {"result": meta.Result, "index": N}
//	GET  /v1/raft/readindex  → 200 {"index": N}: the leader's commit index, confirmed by a quorum
//	GET  /v1/raft/status     → 200 Status
//
// A node that is not the leader answers apply and readindex with 421 and
// {"leader": name}; a Raft failure is 503 with {"error": sentence}.
const (
	pathApply     = "/v1/raft/apply"
	pathReadIndex = "/v1/raft/readindex"
	pathStatus    = "/v1/raft/status"

	maxCmdBytes = 64 << 20
)

// Handler returns the forwarding API. Mount it at /v1/raft/.
func (n *Node) Handler() http.Handler {
	v := &peer.Verifier{Key: n.cfg.Key}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sum, err := v.Verify(r)
		if err != nil {
			status := http.StatusUnauthorized
			var ref *peer.Refusal
			if errors.As(err, &ref) {
				status = ref.Status
			}
			n.log.Warn("Raft request refused", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
			writeJSON(w, status, map[string]string{"error": err.Error()})
			return
		}
		switch {
		case r.URL.Path == pathApply && r.Method == http.MethodPost:
			body, err := io.ReadAll(peer.BodyReader(http.MaxBytesReader(w, r.Body, maxCmdBytes), sum))
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
				return
			}
			n.serveApply(w, r, body)
		case r.URL.Path == pathReadIndex && r.Method == http.MethodGet:
			if n.raft.State() != raft.Leader {
				writeJSON(w, http.StatusMisdirectedRequest, map[string]string{"leader": n.Leader()})
				return
			}
			idx, err := n.leaderReadIndex()
			if err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
				return
			}
			writeJSON(w, http.StatusOK, map[string]uint64{"index": idx})
		case r.URL.Path == pathStatus && r.Method == http.MethodGet:
			writeJSON(w, http.StatusOK, n.Status())
		default:
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such route"})
		}
	})
}

func (n *Node) serveApply(w http.ResponseWriter, r *http.Request, data []byte) {
	if n.raft.State() != raft.Leader {
		writeJSON(w, http.StatusMisdirectedRequest, map[string]string{"leader": n.Leader()})
		return
	}
	timeout := n.cfg.ApplyTimeout
	f := n.raft.Apply(data, timeout)
	if err := f.Error(); err != nil {
		status := http.StatusServiceUnavailable
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			status = http.StatusMisdirectedRequest
		}
		writeJSON(w, status, map[string]string{"error": err.Error(), "leader": n.Leader()})
		return
	}
	res, ok := f.Response().(*meta.Result)
	if !ok {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": fmt.Sprintf("raft returned %T", f.Response())})
		return
	}
	writeJSON(w, http.StatusOK, applyAnswer{Result: res, Index: f.Index()})
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// applyAnswer is the leader's answer to a forwarded command: its result
// and the log index it was applied at, which the forwarding node waits
// for before it answers its caller (so a host reads its own changes).
type applyAnswer struct {
	Result *meta.Result `json:"result"`
	Index  uint64       `json:"index"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// leaderURL returns the base URL of the named node's peer API.
func (n *Node) leaderURL(name string) (string, error) {
	for _, m := range n.cfg.Members() {
		if m.Name == name && m.Meta.HTTPAddr != "" {
			return "http://" + m.Meta.HTTPAddr, nil
		}
	}
	return "", fmt.Errorf("leader %s is not in the membership view", name)
}

// call sends a signed request to the named node and decodes a 200 answer
// into out.
func (n *Node) call(ctx context.Context, node, method, path string, body []byte, out any) error {
	base, err := n.leaderURL(node)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if err := peer.Sign(req, n.cfg.Key, body, time.Now()); err != nil {
		return err
	}
	resp, err := n.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, base+path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxCmdBytes))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, base+path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, base+path, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, out)
}

// forwardApply sends an encoded command to the leader, then waits until
// this node's namespace has applied it: a change made through this host
// is visible here when Propose returns.
func (n *Node) forwardApply(ctx context.Context, leader string, data []byte) (*meta.Result, error) {
	var ans applyAnswer
	if err := n.call(ctx, leader, http.MethodPost, pathApply, data, &ans); err != nil {
		return nil, err
	}
	if ans.Result == nil {
		return nil, fmt.Errorf("leader %s answered without a result", leader)
	}
	if err := n.waitApplied(ctx, ans.Index); err != nil {
		// Applied on the leader but not here yet: the change is made.
		// The result stands; a read here may lag for a moment.
		n.log.Warn("change applied by the leader but not yet here", "index", ans.Index, "err", err)
	}
	return ans.Result, nil
}

// barrierGroup shares read-index requests between concurrent callers: a
// caller may use the answer of a request that started after it did, so
// a burst of opens costs one round trip to the leader, not one each.
type barrierGroup struct {
	n    *Node
	mu   sync.Mutex
	cur  *barrierCall // in flight, or nil
	next *barrierCall // waiting for cur to finish
}

type barrierCall struct {
	done chan struct{}
	idx  uint64
	err  error
}

func (g *barrierGroup) readIndex(ctx context.Context) (uint64, error) {
	g.mu.Lock()
	var c *barrierCall
	switch {
	case g.cur == nil:
		c = &barrierCall{done: make(chan struct{})}
		g.cur = c
		g.mu.Unlock()
		g.run(c)
	case g.next != nil:
		c = g.next
		g.mu.Unlock()
	default:
		// The request in flight may have started before this call: wait
		// for the next one, which starts when it ends.
		c = &barrierCall{done: make(chan struct{})}
		g.next = c
		g.mu.Unlock()
	}
	select {
	case <-c.done:
		return c.idx, c.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// run performs c, then the call queued behind it, if any.
func (g *barrierGroup) run(c *barrierCall) {
	go func() {
		for c != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c.idx, c.err = g.n.readIndexOnce(ctx)
			cancel()
			close(c.done)
			g.mu.Lock()
			c, g.cur, g.next = g.next, g.next, nil
			g.mu.Unlock()
		}
	}()
}

// readIndexOnce asks the leader (this node or another) for a read index.
func (n *Node) readIndexOnce(ctx context.Context) (uint64, error) {
	if n.raft.State() == raft.Leader {
		return n.leaderReadIndex()
	}
	leader := n.Leader()
	if leader == "" {
		return 0, ErrNoLeader
	}
	var out struct{ Index uint64 }
	if err := n.call(ctx, leader, http.MethodGet, pathReadIndex, nil, &out); err != nil {
		return 0, err
	}
	return out.Index, nil
}

// logBridge is where raft's hclog output goes: one slog line per line,
// at the level hclog gave it.
type logBridge struct{ log *slog.Logger }

func (b logBridge) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		level := slog.LevelInfo
		switch {
		case strings.Contains(line, "[ERROR]"):
			level = slog.LevelError
		case strings.Contains(line, "[WARN]"):
			level = slog.LevelWarn
		case strings.Contains(line, "[DEBUG]"), strings.Contains(line, "[TRACE]"):
			level = slog.LevelDebug
		}
		if strings.HasPrefix(line, "[") {
			if i := strings.Index(line, "]"); i >= 0 {
				line = strings.TrimSpace(line[i+1:]) // drop hclog's level
			}
		}
		b.log.Log(context.Background(), level, line, "component", "raft")
	}
	return len(p), nil
}

// hclogBridge returns an hclog.Logger for raft that writes to log.
func hclogBridge(log *slog.Logger, name string) hclog.Logger {
	level := hclog.Info
	if log.Enabled(context.Background(), slog.LevelDebug) {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: logBridge{log}, Level: level, DisableTime: true})
}
