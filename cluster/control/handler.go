package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dfsproject/dfs/alerts"
	"github.com/dfsproject/dfs/cluster/peer"
)

// The routes.
const (
	statusPath = "/v1/status"
	alertsPath = "/v1/alerts"
)

// Bounds of GET /v1/alerts?n=N.
const (
	DefaultAlerts = 50
	MaxAlerts     = 1000
)

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	// Source is what is served.
	Source Source
	// Key is the cluster key (at least peer.MinKeyLen bytes). When it is
	// set every request must be signed with it (peer.Sign), as over HTTP;
	// nil serves unsigned requests, for the unix socket only.
	Key []byte
	// Logger gets one line per refused request; nil discards.
	Logger *slog.Logger
	// Now is the clock signatures are checked against; nil means time.Now.
	Now func() time.Time
}

// Validate reports the first problem with c.
func (c HandlerConfig) Validate() error {
	switch {
	case c.Source == nil:
		return errors.New("control handler: a source is required")
	case c.Key != nil && len(c.Key) < peer.MinKeyLen:
		return fmt.Errorf("control handler: the cluster key must be at least %d bytes", peer.MinKeyLen)
	}
	return nil
}

type handler struct {
	src Source
	v   *peer.Verifier // nil: no signature needed
	log *slog.Logger
}

// NewHandler returns the control API's HTTP handler (see the package
// documentation for the routes). It copies cfg. The caller owns the
// http.Server and should set its ReadHeaderTimeout and IdleTimeout.
func NewHandler(cfg HandlerConfig) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &handler{src: cfg.Source, log: cfg.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Key != nil {
		now := cfg.Now
		if now == nil {
			now = time.Now
		}
		h.v = &peer.Verifier{Key: bytes.Clone(cfg.Key), Now: now}
	}
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.v != nil {
		// Bodies are never read, so the signed body hash need not be
		// checked: the signature covers the method and request-URI.
		if _, err := h.v.Verify(r); err != nil {
			status, reason := http.StatusUnauthorized, err.Error()
			var ref *peer.Refusal
			if errors.As(err, &ref) {
				status, reason = ref.Status, ref.Reason
			}
			h.log.Warn("control request refused",
				slog.String("remote", r.RemoteAddr),
				slog.String("method", truncate(r.Method, 16)),
				slog.String("path", truncate(r.URL.Path, 160)),
				slog.Int("status", status),
				slog.String("reason", reason))
			writeError(w, status, "%s", reason)
			return
		}
	}
	switch {
	case strings.HasPrefix(r.URL.Path, passPrefix):
		h.servePass(w, r)
		return
	case strings.HasPrefix(r.URL.Path, nodesPrefix):
		h.serveNode(w, r)
		return
	}
	var route func(http.ResponseWriter, *http.Request)
	switch r.URL.Path {
	case statusPath:
		route = h.serveStatus
	case alertsPath:
		route = h.serveAlerts
	case infoPath:
		route = h.serveInfo
	case replicationPath, localReplicationPath:
		route = h.serveReplication
	case heldPath:
		route = h.serveHeld
	default:
		writeError(w, http.StatusNotFound, "no such route %.160q; the routes are GET %s, GET %s, GET %s, GET %s, GET %s, GET %s, POST %sNAME and POST %sNAME/ACTION",
			r.URL.Path, statusPath, alertsPath, infoPath, replicationPath, localReplicationPath, heldPath, passPrefix, nodesPrefix)
		return
	}
	if methodIs(w, r, http.MethodGet) {
		route(w, r)
	}
}

// methodIs reports whether r uses method, and answers 405 when not.
func methodIs(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeError(w, http.StatusMethodNotAllowed, "method %.16q not allowed on %s; use %s", r.Method, r.URL.Path, method)
	return false
}

func (h *handler) serveStatus(w http.ResponseWriter, _ *http.Request) {
	st := h.src.Status()
	if st.Nodes == nil {
		st.Nodes = []NodeStatus{}
	}
	if st.Alerts == nil {
		st.Alerts = []alerts.Event{}
	}
	writeJSON(w, st)
}

func (h *handler) serveAlerts(w http.ResponseWriter, r *http.Request) {
	n := DefaultAlerts
	if vs, ok := r.URL.Query()["n"]; ok {
		var err error
		n, err = strconv.Atoi(vs[0])
		switch {
		case len(vs) > 1:
			writeError(w, http.StatusBadRequest, "n is given %d times; give it once", len(vs))
			return
		case err != nil || n < 1 || n > MaxAlerts:
			writeError(w, http.StatusBadRequest, "n must be a whole number from 1 to %d, not %.20q", MaxAlerts, vs[0])
			return
		}
	}
	al := h.src.Alerts(n)
	if al.Open == nil {
		al.Open = []alerts.Event{}
	}
	if al.Recent == nil {
		al.Recent = []alerts.Event{}
	}
	writeJSON(w, al)
}

// errorBody is the JSON body of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	b, _ := json.Marshal(errorBody{Error: fmt.Sprintf(format, args...)})
	write(w, status, b)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot encode the answer: %v", err)
		return
	}
	write(w, http.StatusOK, b)
}

func write(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
