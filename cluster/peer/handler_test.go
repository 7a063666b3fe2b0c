package peer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/errstore"
)

func TestNewHandlerValidates(t *testing.T) {
	for _, cfg := range []HandlerConfig{
		{Key: testKey},
		{Backend: store.NewMemory()},
		{Backend: store.NewMemory(), Key: []byte("short")},
		{Backend: store.NewMemory(), Key: testKey, MaxBody: -1},
		{Backend: store.NewMemory(), Key: testKey, Skew: -time.Second},
	} {
		if _, err := NewHandler(cfg); err == nil {
			t.Errorf("NewHandler(%+v): no error", cfg)
		}
	}
}

func TestPutBodyNotMatchingID(t *testing.T) {
	e := newEnv(t)
	data, id := randChunk(3, 4096)
	other := append(bytes.Clone(data[:4095]), data[4095]^1)
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"one bit flipped", other},
		{"empty", nil},
		{"truncated", data[:100]},
		{"longer", append(bytes.Clone(data), 0)},
	} {
		w := serve(e.h, request(t, "PUT", "/v1/chunks/"+id.String(), tc.body, testKey, e.clock.Now()))
		if w.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", tc.name, w.Code)
		}
	}
	if n := e.es.Calls(errstore.OpPut); n != 0 {
		t.Fatalf("backend Put called %d times", n)
	}
	if objs := listAll(t, e.mem); len(objs) != 0 {
		t.Fatalf("stored %v", objs)
	}
	// The right body is stored.
	if w := serve(e.h, request(t, "PUT", "/v1/chunks/"+id.String(), data, testKey, e.clock.Now())); w.Code != http.StatusNoContent {
		t.Fatalf("good PUT: %d %s", w.Code, w.Body)
	}
	if err := store.Verify(id, getMem(t, e.mem, id.Key())); err != nil {
		t.Fatal(err)
	}
}

func TestBodyHashMismatch(t *testing.T) {
	e := newEnv(t)
	data, id := randChunk(4, 2000)
	// Signed for one body, sent with another that does hash to the ID.
	r := request(t, "PUT", "/v1/chunks/"+id.String(), data, nil, time.Time{})
	sign(t, r, testKey, []byte("something else"), e.clock.Now())
	if w := serve(e.h, r); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "sha256") {
		t.Fatalf("PUT with a body not matching its signed hash: %d %q, want 400", w.Code, w.Body)
	}
	if n := e.es.Calls(errstore.OpPut); n != 0 {
		t.Fatalf("backend Put called %d times", n)
	}
	// A GET with a body not matching its (empty) hash.
	r = request(t, "GET", "/v1/chunks/"+id.String(), []byte("junk"), nil, time.Time{})
	sign(t, r, testKey, nil, e.clock.Now())
	if w := serve(e.h, r); w.Code != http.StatusBadRequest {
		t.Fatalf("GET with a body not matching its signed hash: %d, want 400", w.Code)
	}
	if n := e.calls(); n != 0 {
		t.Fatalf("backend called %d times", n)
	}
}

func TestPutTooLarge(t *testing.T) {
	mem := store.NewMemory()
	h, err := NewHandler(HandlerConfig{Backend: mem, Key: testKey, MaxBody: 1000})
	if err != nil {
		t.Fatal(err)
	}
	data, id := randChunk(5, 1001)
	r := request(t, "PUT", "/v1/chunks/"+id.String(), data, testKey, time.Now())
	if w := serve(h, r); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("declared too large: %d", w.Code)
	}
	r = request(t, "PUT", "/v1/chunks/"+id.String(), data, testKey, time.Now())
	r.ContentLength = -1 // chunked: found while reading
	if w := serve(h, r); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("streamed too large: %d", w.Code)
	}
	if objs := listAll(t, mem); len(objs) != 0 {
		t.Fatalf("stored %v", objs)
	}
	data, id = randChunk(5, 1000)
	if w := serve(h, request(t, "PUT", "/v1/chunks/"+id.String(), data, testKey, time.Now())); w.Code != http.StatusNoContent {
		t.Fatalf("PUT at the limit: %d %s", w.Code, w.Body)
	}
}

func TestInvalidID(t *testing.T) {
	e := newEnv(t)
	_, id := randChunk(6, 10)
	for _, s := range []string{
		"", "abc", id.String()[:63], id.String() + "0", strings.ToUpper(id.String()),
		strings.Repeat("g", 64), strings.Repeat("0", 62) + "%20", "chunks",
	} {
		for _, m := range []string{"GET", "HEAD", "PUT", "DELETE"} {
			w := serve(e.h, request(t, m, "/v1/chunks/"+s, nil, testKey, e.clock.Now()))
			if w.Code != http.StatusBadRequest {
				t.Errorf("%s /v1/chunks/%s: %d, want 400", m, s, w.Code)
			}
		}
	}
	if n := e.calls(); n != 0 {
		t.Fatalf("backend called %d times", n)
	}
}

func TestRangeGet(t *testing.T) {
	e := newEnv(t)
	data, id := randChunk(7, 1000)
	if err := e.c.PutChunk(ctxT(t), id, data); err != nil {
		t.Fatal(err)
	}
	uri := "/v1/chunks/" + id.String()
	for _, tc := range []struct {
		rng        string
		status     int
		start, end int
	}{
		{"", 200, 0, 1000},
		{"bytes=0-9", 206, 0, 10},
		{"bytes=0-0", 206, 0, 1},
		{"bytes=990-", 206, 990, 1000},
		{"bytes=995-5000", 206, 995, 1000},
		{"bytes=-10", 206, 990, 1000},
		{"bytes=-5000", 206, 0, 1000},
		{"bytes=999-999", 206, 999, 1000},
		{"bytes=1000-", 416, 0, 0},
		{"bytes=1000-1005", 416, 0, 0},
		{"bytes=-0", 416, 0, 0},
		{"bytes=5-3", 400, 0, 0},
		{"bytes=0-1,3-4", 400, 0, 0},
		{"items=0-1", 400, 0, 0},
		{"bytes=", 400, 0, 0},
		{"bytes=-", 400, 0, 0},
		{"bytes=a-b", 400, 0, 0},
		{"bytes=+1-2", 400, 0, 0},
		{"bytes=99999999999999999999-", 400, 0, 0},
		{"bytes=9223372036854775807-", 416, 0, 0},
	} {
		r := request(t, "GET", uri, nil, testKey, e.clock.Now())
		if tc.rng != "" {
			r.Header.Set("Range", tc.rng)
		}
		w := serve(e.h, r)
		if w.Code != tc.status {
			t.Errorf("Range %q: status %d, want %d", tc.rng, w.Code, tc.status)
			continue
		}
		switch tc.status {
		case 200, 206:
			if !bytes.Equal(w.Body.Bytes(), data[tc.start:tc.end]) {
				t.Errorf("Range %q: got %d bytes, want bytes %d-%d", tc.rng, w.Body.Len(), tc.start, tc.end)
			}
			if tc.status == 206 {
				want := fmt.Sprintf("bytes %d-%d/1000", tc.start, tc.end-1)
				if got := w.Header().Get("Content-Range"); got != want {
					t.Errorf("Range %q: Content-Range %q, want %q", tc.rng, got, want)
				}
			}
		case 416:
			if got := w.Header().Get("Content-Range"); got != "bytes */1000" {
				t.Errorf("Range %q: Content-Range %q on 416", tc.rng, got)
			}
		}
	}
	// A range on an empty chunk is never satisfiable.
	_, empty := randChunk(0, 0)
	if err := e.c.PutChunk(ctxT(t), empty, nil); err != nil {
		t.Fatal(err)
	}
	r := request(t, "GET", "/v1/chunks/"+empty.String(), nil, testKey, e.clock.Now())
	r.Header.Set("Range", "bytes=-1")
	if w := serve(e.h, r); w.Code != 416 {
		t.Fatalf("range of an empty chunk: %d", w.Code)
	}
}

func TestHead(t *testing.T) {
	e := newEnv(t)
	data, id := randChunk(8, 1234)
	if err := e.c.PutChunk(ctxT(t), id, data); err != nil {
		t.Fatal(err)
	}
	w := serve(e.h, request(t, "HEAD", "/v1/chunks/"+id.String(), nil, testKey, e.clock.Now()))
	if w.Code != 200 || w.Header().Get("Content-Length") != "1234" || w.Body.Len() != 0 {
		t.Fatalf("HEAD: %d, Content-Length %q, %d body bytes", w.Code, w.Header().Get("Content-Length"), w.Body.Len())
	}
}

func TestInventoryPaging(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	want := map[store.ChunkID]int64{}
	for i := range 60 {
		data, id := randChunk(uint64(100+i), i*7)
		if err := e.c.PutChunk(ctx, id, data); err != nil {
			t.Fatal(err)
		}
		want[id] = int64(len(data))
	}
	// Objects that are not chunks are not listed.
	for _, k := range []string{"chunks/zz/bad", "chunks/ab/cd/" + strings.Repeat("0", 64), "meta/x", "chunksx"} {
		if err := e.mem.Put(ctx, k, strings.NewReader("x"), 1); err != nil {
			t.Fatal(err)
		}
	}
	var after store.ChunkID
	var got []ChunkInfo
	pages := 0
	for {
		page, more, err := e.c.ListChunks(ctx, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page) > 7 {
			t.Fatalf("page of %d entries, limit 7", len(page))
		}
		got = append(got, page...)
		if !more {
			break
		}
		if len(page) == 0 {
			t.Fatal("empty page with more set")
		}
		after = page[len(page)-1].ID
		if pages > 20 {
			t.Fatal("paging does not end")
		}
	}
	if pages != 9 { // 60 chunks: 8 full pages and one of 4
		t.Errorf("%d pages, want 9", pages)
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d chunks, want %d", len(got), len(want))
	}
	for i, ci := range got {
		if i > 0 && bytes.Compare(got[i-1].ID[:], ci.ID[:]) >= 0 {
			t.Fatalf("not in ID order at %d", i)
		}
		if size, ok := want[ci.ID]; !ok || size != ci.Size {
			t.Fatalf("listed %s size %d; want size %d (known %v)", ci.ID, ci.Size, size, ok)
		}
	}
	// After the last ID: nothing.
	page, more, err := e.c.ListChunks(ctx, got[len(got)-1].ID, 0)
	if err != nil || len(page) != 0 || more {
		t.Fatalf("after the last: %v, %v, %v", page, more, err)
	}
	// One page of all, with the default limit.
	page, more, err = e.c.ListChunks(ctx, store.ChunkID{}, 0)
	if err != nil || len(page) != 60 || more {
		t.Fatalf("default limit: %d entries, more %v, %v", len(page), more, err)
	}
	// Bad parameters.
	for _, q := range []string{
		"limit=0", "limit=-1", "limit=abc", "limit=99999999999999999999", "limit=+5",
		"after=xyz", "after=" + strings.ToUpper(got[0].ID.String()), "after=%zz", "%zz",
	} {
		w := serve(e.h, request(t, "GET", "/v1/chunks?"+q, nil, testKey, e.clock.Now()))
		if w.Code != http.StatusBadRequest {
			t.Errorf("GET /v1/chunks?%s: %d, want 400", q, w.Code)
		}
	}
	// A large limit is capped, not refused.
	w := serve(e.h, request(t, "GET", "/v1/chunks?limit=100000", nil, testKey, e.clock.Now()))
	var lr listResponse
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &lr) != nil || len(lr.Chunks) != 60 {
		t.Fatalf("limit=100000: %d %s", w.Code, w.Body)
	}
}

func TestErrorMapping(t *testing.T) {
	boom := errors.New("disk on fire at /secret/path")
	data, id := randChunk(9, 100)
	for _, tc := range []struct {
		name   string
		op     errstore.Op
		err    error
		method string
		status int
		want   error // from the client
	}{
		{"get not found", errstore.OpStat, store.ErrNotFound, "GET", 404, store.ErrNotFound},
		{"get raced delete", errstore.OpGet, store.ErrNotFound, "GET", 404, store.ErrNotFound},
		{"head not found", errstore.OpStat, store.ErrNotFound, "HEAD", 404, store.ErrNotFound},
		{"put no space", errstore.OpPut, store.ErrNoSpace, "PUT", 507, store.ErrNoSpace},
		{"put failure", errstore.OpPut, boom, "PUT", 500, nil},
		{"get failure", errstore.OpGet, boom, "GET", 500, nil},
		{"stat failure", errstore.OpStat, boom, "HEAD", 500, nil},
		{"delete failure", errstore.OpDelete, boom, "DELETE", 500, nil},
		{"list failure", errstore.OpList, boom, "LIST", 500, nil},
		{"backend closed", errstore.OpGet, store.ErrClosed, "GET", 503, ErrUnavailable},
		{"backend unreachable", errstore.OpPut, store.ErrUnreachable, "PUT", 503, ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.method != "PUT" {
				if err := e.c.PutChunk(ctxT(t), id, data); err != nil {
					t.Fatal(err)
				}
			}
			e.es.FailAlways(tc.op, tc.err)
			var r *http.Request
			switch tc.method {
			case "PUT":
				r = request(t, "PUT", "/v1/chunks/"+id.String(), data, testKey, e.clock.Now())
			case "LIST":
				r = request(t, "GET", "/v1/chunks", nil, testKey, e.clock.Now())
			default:
				r = request(t, tc.method, "/v1/chunks/"+id.String(), nil, testKey, e.clock.Now())
			}
			w := serve(e.h, r)
			if w.Code != tc.status {
				t.Fatalf("status %d (%q), want %d", w.Code, w.Body, tc.status)
			}
			if strings.Contains(w.Body.String(), "secret") {
				t.Errorf("internal error sent to the peer: %q", w.Body)
			}
			if tc.status == 500 && !strings.Contains(e.logs.String(), "secret") {
				t.Errorf("internal error not logged: %q", e.logs)
			}
			// The same through the client.
			var err error
			switch tc.method {
			case "PUT":
				err = e.c.PutChunk(ctxT(t), id, data)
			case "LIST":
				_, _, err = e.c.ListChunks(ctxT(t), store.ChunkID{}, 0)
			case "HEAD":
				_, err = e.c.StatChunk(ctxT(t), id)
			case "DELETE":
				err = e.c.DeleteChunk(ctxT(t), id)
			default:
				_, err = e.c.GetChunk(ctxT(t), id)
			}
			if err == nil {
				t.Fatal("client: no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("client: %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("client error has the peer's internal error: %v", err)
			}
		})
	}
}

// TestHostileRequests sends requests with hostile paths, methods and
// queries, signed and not: each gets a 4xx, never a 5xx or a panic, and none
// writes to the backend. (Two URIs name a valid chunk, which a signed
// DELETE may remove: 204.)
func TestHostileRequests(t *testing.T) {
	e := newEnv(t)
	_, id := randChunk(10, 10)
	hexID := id.String()
	uris := []string{
		"/v1/chunks/../x", "/v1/chunks/%2e%2e/x", "/v1/chunks/..%2Fx", "/v1/chunks/../../etc/passwd",
		"/v1/chunks/" + strings.Repeat("a", 100000), "/v1/chunks/" + strings.Repeat("0", 64) + "/extra",
		"/v1/chunks/%00", "/v1/chunks/\x00", "/v1/chunks/" + hexID[:63] + "\x00", "/v1/chunks/" + hexID[:62] + "%00",
		"/v1/chunks//", "/v1/chunks/", "/", "", "*", "/v1", "/v1/", "/v2/chunks", "//v1/chunks", "/v1//chunks",
		"/v1/chunks/" + hexID + "%2F", "/v1/chunks/" + hexID + "?x=%zz", "/v1/chunks?after=%00",
		"/v1/chunks?limit=99999999999999999999", "/v1/chunks?after=../../x", "/v1/chunks/\n" + hexID,
		"/v1/chunks/%ff%fe", "/v1/chunks/ü", "/v1/chunks/" + hexID + "#frag",
	}
	validDelete := map[string]bool{
		"/v1/chunks/" + hexID + "?x=%zz": true,
		"http://evil/v1/chunks/" + hexID: true,
	}
	for u := range validDelete {
		uris = append(uris, u)
	}
	methods := []string{"GET", "HEAD", "PUT", "DELETE", "POST", "PATCH", "OPTIONS", "CONNECT", "TRACE", "", "G\x00ET"}
	for _, uri := range uris {
		for _, m := range methods {
			for _, signed := range []bool{true, false} {
				var key []byte
				if signed {
					key = testKey
				}
				w := serve(e.h, request(t, m, uri, []byte("body"), key, e.clock.Now()))
				if signed && m == "DELETE" && validDelete[uri] && w.Code == http.StatusBadRequest {
					continue // a DELETE with a body: refused, fine
				}
				if signed && m == "DELETE" && validDelete[uri] {
					if w.Code != http.StatusNoContent {
						t.Errorf("DELETE %q: %d, want 204", uri, w.Code)
					}
					continue
				}
				if w.Code < 400 || w.Code >= 500 {
					t.Errorf("%q %.60q (signed %v): status %d, want 4xx", m, uri, signed, w.Code)
				}
			}
		}
	}
	if n := e.es.Calls(errstore.OpPut); n != 0 {
		t.Fatalf("hostile requests wrote to the backend %d times", n)
	}
}

func FuzzHandler(f *testing.F) {
	_, id := randChunk(11, 10)
	f.Add("GET", "/v1/chunks/"+id.String(), "bytes=0-3", []byte(nil))
	f.Add("PUT", "/v1/chunks/"+id.String(), "", []byte("x"))
	f.Add("GET", "/v1/chunks?after="+id.String()+"&limit=3", "", []byte(nil))
	f.Add("DELETE", "/v1/chunks/../x", "", []byte(nil))
	f.Add("HEAD", "/v1/chunks/%00", "bytes=-1", []byte("body"))
	mem := store.NewMemory()
	data, id2 := randChunk(12, 100)
	mem.Put(f.Context(), id2.Key(), bytes.NewReader(data), int64(len(data)))
	h, err := NewHandler(HandlerConfig{Backend: mem, Key: testKey, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, uri, rng string, body []byte) {
		r := request(t, method, uri, body, testKey, time.Now())
		if rng != "" {
			r.Header.Set("Range", rng)
		}
		w := serve(h, r)
		if w.Code >= 500 {
			t.Fatalf("%q %q Range %q: status %d", method, uri, rng, w.Code)
		}
	})
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=3-", "bytes=5-1", "bytes=1-2,3-4", "bytes=-"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, s string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		start, end, ok, err := parseRange(s, size)
		if err != nil || !ok {
			return
		}
		if start < 0 || start >= end || end > size {
			t.Fatalf("parseRange(%q, %d) = [%d, %d)", s, size, start, end)
		}
	})
}

func listAll(t *testing.T, b store.Backend) []string {
	t.Helper()
	var keys []string
	err := b.List(ctxT(t), "", func(oi store.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func getMem(t *testing.T, b store.Backend, key string) []byte {
	t.Helper()
	rc, err := b.Get(ctxT(t), key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
