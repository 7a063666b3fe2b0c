package peer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/errstore"
)

var (
	testKey  = bytes.Repeat([]byte{0x5a}, 32)
	otherKey = bytes.Repeat([]byte{0xa5}, 32)
)

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	mem   *store.Memory
	es    *errstore.Store
	h     http.Handler
	clock *clock
	logs  *syncBuffer
	srv   *httptest.Server
	c     *Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{mem: store.NewMemory(), clock: newClock(), logs: &syncBuffer{}}
	e.es = errstore.New(e.mem)
	h, err := NewHandler(HandlerConfig{
		Backend: e.es,
		Key:     testKey,
		Logger:  slog.New(slog.NewTextHandler(e.logs, nil)),
		Now:     e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	e.c = &Client{BaseURL: e.srv.URL, Key: testKey, HTTP: e.srv.Client(), Now: e.clock.Now}
	return e
}

// calls is the number of backend calls of every kind.
func (e *env) calls() int {
	n := 0
	for _, op := range []errstore.Op{errstore.OpGet, errstore.OpPut, errstore.OpStat, errstore.OpDelete, errstore.OpList} {
		n += e.es.Calls(op)
	}
	return n
}

// request builds a request for ServeHTTP with the raw request-URI uri
// (which may be one url.Parse refuses), signed with key at now when key is
// not nil.
func request(t *testing.T, method, uri string, body []byte, key []byte, now time.Time) *http.Request {
	t.Helper()
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		u = &url.URL{Path: uri}
	}
	r := &http.Request{
		Method:        method,
		URL:           u,
		RequestURI:    uri,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Host:          "peer.test",
		RemoteAddr:    "192.0.2.7:4242",
	}
	r = r.WithContext(context.Background())
	if key != nil {
		sign(t, r, key, body, now)
	}
	return r
}

// sign signs r over its raw RequestURI.
func sign(t *testing.T, r *http.Request, key, body []byte, now time.Time) {
	t.Helper()
	if err := signURI(r, r.RequestURI, key, sha256.Sum256(body), now); err != nil {
		t.Fatal(err)
	}
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func randChunk(seed uint64, n int) ([]byte, store.ChunkID) {
	rnd := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
	return b, store.Sum(b)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
