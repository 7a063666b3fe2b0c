package peer

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/errstore"
)

func TestClientRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	data, id := randChunk(20, 3<<20+17)
	if ok, err := e.c.HasChunk(ctx, id); ok || err != nil {
		t.Fatalf("HasChunk before Put = %v, %v", ok, err)
	}
	if _, err := e.c.GetChunk(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetChunk before Put: %v, want ErrNotFound", err)
	}
	if err := e.c.PutChunk(ctx, id, data); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.c.HasChunk(ctx, id); !ok || err != nil {
		t.Fatalf("HasChunk = %v, %v", ok, err)
	}
	if size, err := e.c.StatChunk(ctx, id); size != int64(len(data)) || err != nil {
		t.Fatalf("StatChunk = %d, %v", size, err)
	}
	got, err := e.c.GetChunk(ctx, id)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetChunk: %d bytes, %v", len(got), err)
	}
	n := int64(len(data))
	for _, tc := range []struct{ off, length int64 }{
		{0, 10}, {5, 1}, {n - 1, 1}, {n - 10, -1}, {100, n}, {n, -1}, {n, 5}, {n + 100, 5}, {0, 0}, {7, 0},
		{1 << 62, 1 << 62}, {3, 1<<63 - 1},
	} {
		got, err := e.c.GetChunkRange(ctx, id, tc.off, tc.length)
		start := min(tc.off, n)
		end := n
		if tc.length >= 0 && tc.length < n-start {
			end = start + tc.length
		}
		if err != nil || !bytes.Equal(got, data[start:end]) {
			t.Errorf("GetChunkRange(%d, %d): %d bytes, %v; want bytes %d-%d", tc.off, tc.length, len(got), err, start, end)
		}
	}
	if _, err := e.c.GetChunkRange(ctx, id, -1, 5); err == nil {
		t.Errorf("GetChunkRange with a negative offset: no error")
	}
	if list, more, err := e.c.ListChunks(ctx, store.ChunkID{}, 10); err != nil || more || len(list) != 1 || list[0] != (ChunkInfo{id, n}) {
		t.Fatalf("ListChunks = %v, %v, %v", list, more, err)
	}
	if err := e.c.DeleteChunk(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := e.c.DeleteChunk(ctx, id); err != nil {
		t.Fatalf("second DeleteChunk: %v", err)
	}
	if _, err := e.c.GetChunkRange(ctx, id, 0, 5); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetChunkRange after delete: %v", err)
	}
	if ok, err := e.c.HasChunk(ctx, id); ok || err != nil {
		t.Fatalf("HasChunk after delete = %v, %v", ok, err)
	}
}

func TestClientPutChecksData(t *testing.T) {
	e := newEnv(t)
	data, id := randChunk(21, 100)
	data[0] ^= 1
	if err := e.c.PutChunk(ctxT(t), id, data); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("PutChunk of bytes not matching the ID: %v, want ErrCorrupt", err)
	}
	if n := e.calls(); n != 0 {
		t.Fatalf("backend called %d times", n)
	}
}

func TestClientDetectsCorruptChunk(t *testing.T) {
	e := newEnv(t)
	data, id := randChunk(22, 5000)
	bad := bytes.Clone(data)
	bad[4000] ^= 0x80
	if err := e.mem.Put(ctxT(t), id.Key(), bytes.NewReader(bad), int64(len(bad))); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.GetChunk(ctxT(t), id); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("GetChunk of a corrupt copy: %v, want ErrCorrupt", err)
	}
	// Repair: a PUT of the good bytes replaces the corrupt copy.
	if err := e.c.PutChunk(ctxT(t), id, data); err != nil {
		t.Fatal(err)
	}
	if got, err := e.c.GetChunk(ctxT(t), id); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetChunk after repair: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	data, id := randChunk(23, 100)
	wrong := &Client{BaseURL: e.srv.URL, Key: otherKey, HTTP: e.srv.Client(), Now: e.clock.Now}
	if err := wrong.PutChunk(ctx, id, data); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("PutChunk with the wrong key: %v, want ErrUnauthorized", err)
	}
	skewed := &Client{BaseURL: e.srv.URL, Key: testKey, HTTP: e.srv.Client(),
		Now: func() time.Time { return e.clock.Now().Add(time.Minute) }}
	if _, err := skewed.HasChunk(ctx, id); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("HasChunk with a skewed clock: %v, want ErrUnauthorized", err)
	}
	if n := e.calls(); n != 0 {
		t.Fatalf("backend called %d times", n)
	}
	e.mem.SetCapacity(50)
	if err := e.c.PutChunk(ctx, id, data); !errors.Is(err, store.ErrNoSpace) {
		t.Fatalf("PutChunk on a full backend: %v, want ErrNoSpace", err)
	}
	noKey := &Client{BaseURL: e.srv.URL, HTTP: e.srv.Client()}
	if _, err := noKey.HasChunk(ctx, id); err == nil {
		t.Fatal("Client without a key: no error")
	}

	// A peer that is down.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	down := &Client{BaseURL: url, Key: testKey}
	if _, err := down.GetChunk(ctx, id); !errors.Is(err, store.ErrUnreachable) {
		t.Fatalf("GetChunk from a closed server: %v, want ErrUnreachable", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.c.GetChunk(cctx, id); !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnreachable) {
		t.Fatalf("GetChunk with a cancelled ctx: %v, want context.Canceled", err)
	}
}

// A peer answering garbage: errors, no panics.
func TestClientHostileServer(t *testing.T) {
	_, id := randChunk(24, 100)
	for _, h := range []http.HandlerFunc{
		func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{not json")) },
		func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"chunks":[{"id":"zz","size":1}]}`)) },
		func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) },
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			w.Write([]byte("short"))
		},
	} {
		srv := httptest.NewServer(h)
		c := &Client{BaseURL: srv.URL, Key: testKey, HTTP: srv.Client()}
		if _, err := c.GetChunk(ctxT(t), id); err == nil {
			t.Error("GetChunk: no error")
		}
		if _, _, err := c.ListChunks(ctxT(t), id, 5); err == nil {
			t.Error("ListChunks: no error")
		}
		srv.Close()
	}
}

// TestPrefixMount serves the API under a path prefix: the signature covers
// the path as sent, which the server checks before the prefix is stripped.
func TestPrefixMount(t *testing.T) {
	mem := store.NewMemory()
	h, err := NewHandler(HandlerConfig{Backend: mem, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/peer/", http.StripPrefix("/peer", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := &Client{BaseURL: srv.URL + "/peer/", Key: testKey, HTTP: srv.Client()}
	data, id := randChunk(25, 100)
	if err := c.PutChunk(ctxT(t), id, data); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetChunk(ctxT(t), id); err != nil || !bytes.Equal(got, data) {
		t.Fatal(err)
	}
	if list, _, err := c.ListChunks(ctxT(t), store.ChunkID{}, 5); err != nil || len(list) != 1 {
		t.Fatalf("ListChunks = %v, %v", list, err)
	}
}

func TestClientConcurrent(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				data, id := randChunk(uint64(1000+w*10+i), 1000+i)
				if err := e.c.PutChunk(ctx, id, data); err != nil {
					errs <- err
					return
				}
				got, err := e.c.GetChunk(ctx, id)
				if err != nil || !bytes.Equal(got, data) {
					errs <- errors.Join(errors.New("get back"), err)
					return
				}
				if _, _, err := e.c.ListChunks(ctx, id, 3); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.es.Calls(errstore.OpPut); n != 80 {
		t.Errorf("%d Puts, want 80", n)
	}
}
