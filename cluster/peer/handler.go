package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dfsproject/dfs/cluster/internal/ratelog"
	"github.com/dfsproject/dfs/store"
)

// Limits of the server.
const (
	// MaxChunkSize is the largest chunk dfs makes (the chunk size is at
	// most 64 MiB).
	MaxChunkSize = 64 << 20
	// DefaultMaxBody is the largest PUT body accepted when
	// HandlerConfig.MaxBody is 0.
	DefaultMaxBody = MaxChunkSize + 64<<10
	// DefaultListLimit and MaxListLimit bound an inventory page.
	DefaultListLimit = 1000
	MaxListLimit     = 10000
	// maxSmallBody is the largest body of a GET, HEAD or DELETE (which
	// should have none).
	maxSmallBody = 4096
)

// The routes, relative to the server's root.
const (
	chunksPath  = "/v1/chunks"
	chunkPrefix = chunksPath + "/"
)

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	// Backend is the node's own backend, served to peers. Chunks live
	// under store.ChunkID.Key.
	Backend store.Backend
	// Key is the cluster key, at least MinKeyLen bytes.
	Key []byte
	// Logger gets one line per refused request (rate-limited) and per
	// backend failure; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxBody is the largest PUT body accepted; 0 means DefaultMaxBody.
	MaxBody int64
	// Skew is the clock-skew window; 0 means DefaultSkew.
	Skew time.Duration
	// MaxNonces bounds the replay cache; 0 means DefaultMaxNonces.
	MaxNonces int
}

// Validate reports the first problem with c.
func (c HandlerConfig) Validate() error {
	switch {
	case c.Backend == nil:
		return errors.New("peer handler: a backend is required")
	case len(c.Key) < MinKeyLen:
		return fmt.Errorf("peer handler: the cluster key must be at least %d bytes", MinKeyLen)
	case c.MaxBody < 0:
		return errors.New("peer handler: MaxBody must not be negative")
	case c.Skew < 0:
		return errors.New("peer handler: Skew must not be negative")
	case c.MaxNonces < 0:
		return errors.New("peer handler: MaxNonces must not be negative")
	}
	return nil
}

type handler struct {
	b       store.Backend
	v       *Verifier
	log     *ratelog.Logger
	maxBody int64
}

// NewHandler returns the peer API's HTTP handler for cfg.Backend (see the
// package documentation for the routes). It copies cfg. The caller owns the
// http.Server and should set its ReadHeaderTimeout and IdleTimeout.
func NewHandler(cfg HandlerConfig) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	maxBody := cfg.MaxBody
	if maxBody == 0 {
		maxBody = DefaultMaxBody
	}
	return &handler{
		b: cfg.Backend,
		v: &Verifier{
			Key:       bytes.Clone(cfg.Key),
			Skew:      cfg.Skew,
			MaxNonces: cfg.MaxNonces,
			Now:       now,
		},
		log:     ratelog.New(logger, now),
		maxBody: maxBody,
	}, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sum, err := h.v.Verify(r)
	if err != nil {
		ref, ok := err.(*Refusal)
		if !ok {
			ref = unauthorized("%v", err)
		}
		h.refuse(w, r, ref)
		return
	}
	switch p := r.URL.Path; {
	case p == chunksPath:
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			h.refuse(w, r, badRequest(http.StatusMethodNotAllowed, "method %.16q not allowed", r.Method))
			return
		}
		if ref := h.drainBody(r, sum); ref != nil {
			h.refuse(w, r, ref)
			return
		}
		h.list(w, r)
	case strings.HasPrefix(p, chunkPrefix):
		h.chunk(w, r, p[len(chunkPrefix):], sum)
	default:
		h.refuse(w, r, badRequest(http.StatusNotFound, "no such route"))
	}
}

func (h *handler) chunk(w http.ResponseWriter, r *http.Request, s string, sum [32]byte) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		h.refuse(w, r, badRequest(http.StatusMethodNotAllowed, "method %.16q not allowed", r.Method))
		return
	}
	id, err := store.ParseChunkID(s)
	if err != nil || id.String() != s {
		h.refuse(w, r, badRequest(http.StatusBadRequest, "invalid chunk id"))
		return
	}
	if r.Method == http.MethodPut {
		h.put(w, r, id, sum)
		return
	}
	if ref := h.drainBody(r, sum); ref != nil {
		h.refuse(w, r, ref)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.get(w, r, id)
	case http.MethodDelete:
		if err := h.b.Delete(r.Context(), id.Key()); err != nil {
			h.storeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// put stores the body under id once it has checked, before anything touches
// the backend, that the body has the signed SHA-256 and the BLAKE3 hash id.
func (h *handler) put(w http.ResponseWriter, r *http.Request, id store.ChunkID, sum [32]byte) {
	if r.ContentLength > h.maxBody {
		h.refuse(w, r, badRequest(http.StatusRequestEntityTooLarge, "body of %d bytes is over the %d limit", r.ContentLength, h.maxBody))
		return
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(BodyReader(r.Body, sum), h.maxBody+1))
	switch {
	case n > h.maxBody:
		h.refuse(w, r, badRequest(http.StatusRequestEntityTooLarge, "body over the %d-byte limit", h.maxBody))
		return
	case errors.Is(err, ErrBodyHash):
		h.refuse(w, r, &Refusal{Status: http.StatusBadRequest, Reason: "body does not match its signed sha256", err: ErrBodyHash})
		return
	case err != nil:
		h.refuse(w, r, badRequest(http.StatusBadRequest, "reading body: %v", err))
		return
	}
	data := buf.Bytes()
	if store.Verify(id, data) != nil {
		h.refuse(w, r, badRequest(http.StatusBadRequest, "body does not hash to chunk %s", id))
		return
	}
	// Always Put, even when the chunk is already there: repair pushes a
	// good copy over a corrupt one.
	if err := h.b.Put(r.Context(), id.Key(), bytes.NewReader(data), int64(len(data))); err != nil {
		h.storeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request, id store.ChunkID) {
	info, err := h.b.Stat(r.Context(), id.Key())
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	size := info.Size
	hdr := w.Header()
	hdr.Set("Accept-Ranges", "bytes")
	hdr.Set("Content-Type", "application/octet-stream")
	if r.Method == http.MethodHead {
		hdr.Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	start, end, status := int64(0), size, http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" {
		var ok bool
		start, end, ok, err = parseRange(rh, size)
		if err != nil {
			h.refuse(w, r, badRequest(http.StatusBadRequest, "%v", err))
			return
		}
		if !ok {
			hdr.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			h.refuse(w, r, badRequest(http.StatusRequestedRangeNotSatisfiable, "range %q not satisfiable for %d bytes", rh, size))
			return
		}
		status = http.StatusPartialContent
		hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, size))
	}
	rc, err := h.b.Get(r.Context(), id.Key(), start, end-start)
	if err != nil {
		hdr.Del("Content-Range")
		h.storeError(w, r, err)
		return
	}
	defer rc.Close()
	hdr.Set("Content-Length", strconv.FormatInt(end-start, 10))
	w.WriteHeader(status)
	// A failure midway leaves the response short of its Content-Length,
	// which the client sees as an unexpected EOF.
	if _, err := io.Copy(w, rc); err != nil && r.Context().Err() == nil {
		h.log.Log(slog.LevelWarn, "peer chunk read failed midway", slog.String("remote", r.RemoteAddr),
			slog.String("chunk", id.String()), slog.Any("err", err))
	}
}

// parseRange parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" range
// against size and returns the half-open [start, end). ok is false when the
// range is well formed but not satisfiable (416); err is set when it is
// malformed or asks for several ranges (400).
func parseRange(s string, size int64) (start, end int64, ok bool, err error) {
	spec, found := strings.CutPrefix(s, "bytes=")
	if !found {
		return 0, 0, false, errors.New("range: want bytes=")
	}
	a, b, found := strings.Cut(spec, "-")
	if !found || strings.Contains(b, "-") || (a == "" && b == "") {
		return 0, 0, false, errors.New("range: want one range a-b, a- or -n")
	}
	num := func(s string) (int64, error) {
		if s == "" || len(s) > 19 || !allDigits(s) {
			return 0, errors.New("range: bad number")
		}
		return strconv.ParseInt(s, 10, 64)
	}
	if a == "" { // the last n bytes
		n, err := num(b)
		if err != nil {
			return 0, 0, false, err
		}
		if n == 0 || size == 0 {
			return 0, 0, false, nil
		}
		return max(0, size-n), size, true, nil
	}
	first, err := num(a)
	if err != nil {
		return 0, 0, false, err
	}
	last := size - 1
	if b != "" {
		if last, err = num(b); err != nil {
			return 0, 0, false, err
		}
		if last < first {
			return 0, 0, false, errors.New("range: last byte before first")
		}
	}
	if first >= size {
		return 0, 0, false, nil
	}
	return first, min(last, size-1) + 1, true, nil
}

// ChunkInfo is one entry of the inventory.
type ChunkInfo struct {
	ID   store.ChunkID
	Size int64
}

type listEntry struct {
	ID   string `json:"id"`
	Size int64  `json:"size"`
}

type listResponse struct {
	Chunks []listEntry `json:"chunks"`
	More   bool        `json:"more"`
}

var errPageFull = errors.New("page full")

// list answers GET /v1/chunks?after=ID&limit=N with the chunks after ID in
// ID order. The backend has no start-after, so it lists one 256th of the key
// space (chunks/xx/) at a time from after's, skipping what precedes after.
func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.refuse(w, r, badRequest(http.StatusBadRequest, "bad query"))
		return
	}
	var after store.ChunkID
	hasAfter := false
	if s := q.Get("after"); s != "" {
		if after, err = store.ParseChunkID(s); err != nil || after.String() != s {
			h.refuse(w, r, badRequest(http.StatusBadRequest, "invalid chunk id in after"))
			return
		}
		hasAfter = true
	}
	limit := DefaultListLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || len(s) > 9 || !allDigits(s) {
			h.refuse(w, r, badRequest(http.StatusBadRequest, "limit must be a positive number"))
			return
		}
		limit = min(n, MaxListLimit)
	}
	resp := listResponse{Chunks: []listEntry{}}
	for shard := int(after[0]); shard < 256; shard++ {
		err := h.b.List(r.Context(), fmt.Sprintf("chunks/%02x/", shard), func(oi store.ObjectInfo) error {
			id, ok := chunkKeyID(oi.Key)
			if !ok || hasAfter && bytes.Compare(id[:], after[:]) <= 0 {
				return nil
			}
			if len(resp.Chunks) == limit {
				resp.More = true
				return errPageFull
			}
			resp.Chunks = append(resp.Chunks, listEntry{ID: id.String(), Size: oi.Size})
			return nil
		})
		if errors.Is(err, errPageFull) {
			break
		}
		if err != nil {
			h.storeError(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// chunkKeyID returns the chunk whose key is key, if it is one.
func chunkKeyID(key string) (store.ChunkID, bool) {
	id, err := store.ParseChunkID(key[strings.LastIndexByte(key, '/')+1:])
	return id, err == nil && id.Key() == key
}

// drainBody reads the (small) body of a GET, HEAD or DELETE and checks it
// against its signed hash.
func (h *handler) drainBody(r *http.Request, sum [32]byte) *Refusal {
	if r.ContentLength > maxSmallBody {
		return badRequest(http.StatusRequestEntityTooLarge, "body of %d bytes on %s", r.ContentLength, r.Method)
	}
	n, err := io.Copy(io.Discard, io.LimitReader(BodyReader(r.Body, sum), maxSmallBody+1))
	switch {
	case n > maxSmallBody:
		return badRequest(http.StatusRequestEntityTooLarge, "body over %d bytes on %s", maxSmallBody, r.Method)
	case errors.Is(err, ErrBodyHash):
		return &Refusal{Status: http.StatusBadRequest, Reason: "body does not match its signed sha256", err: ErrBodyHash}
	case err != nil:
		return badRequest(http.StatusBadRequest, "reading body: %v", err)
	}
	return nil
}

func badRequest(status int, format string, args ...any) *Refusal {
	return &Refusal{Status: status, Reason: fmt.Sprintf(format, args...), err: ErrBadRequest}
}

// refuse answers a refused request and logs it (rate-limited) with the
// remote address and the reason, never the key.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, ref *Refusal) {
	h.log.Log(slog.LevelWarn, "peer request refused",
		slog.String("remote", r.RemoteAddr),
		slog.String("method", truncate(r.Method, 16)),
		slog.String("path", truncate(r.URL.Path, 160)),
		slog.Int("status", ref.Status),
		slog.String("reason", ref.Reason))
	http.Error(w, http.StatusText(ref.Status)+": "+ref.Reason, ref.Status)
}

// storeError maps a backend error to its status: ErrNotFound 404, ErrNoSpace
// 507, ErrClosed and ErrUnreachable 503, anything else 500 with a short
// message (the full error is logged, not sent).
func (h *handler) storeError(w http.ResponseWriter, r *http.Request, err error) {
	var status int
	var msg string
	switch {
	case errors.Is(err, store.ErrNotFound):
		http.Error(w, "chunk not found", http.StatusNotFound)
		return
	case errors.Is(err, store.ErrNoSpace):
		status, msg = http.StatusInsufficientStorage, "no space left on the backend"
	case errors.Is(err, store.ErrInvalidKey):
		status, msg = http.StatusBadRequest, "invalid key"
	case errors.Is(err, store.ErrClosed), errors.Is(err, store.ErrUnreachable):
		status, msg = http.StatusServiceUnavailable, "backend unavailable"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status, msg = http.StatusServiceUnavailable, "request cancelled"
	default:
		status, msg = http.StatusInternalServerError, "backend error"
	}
	level := slog.LevelWarn
	if status == http.StatusInternalServerError {
		level = slog.LevelError
	}
	h.log.Log(level, "peer request failed", slog.String("remote", r.RemoteAddr),
		slog.String("method", r.Method), slog.String("path", truncate(r.URL.Path, 160)),
		slog.Int("status", status), slog.Any("err", err))
	http.Error(w, msg, status)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
