package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dfsproject/dfs/store"
)

// Client calls one peer's API. Its fields are read-only once it is in use;
// it is safe for concurrent use.
type Client struct {
	// BaseURL is the peer's HTTP address, such as "http://10.0.0.2:7948"
	// (a path prefix is allowed).
	BaseURL string
	// Key is the cluster key.
	Key []byte
	// HTTP is the client to use; nil means http.DefaultClient. Set its
	// Timeout, or pass contexts with deadlines.
	HTTP *http.Client
	// Now is the clock requests are signed with; nil means time.Now.
	Now func() time.Time
}

// GetChunk returns the bytes of chunk id, verified against id: a peer that
// sends other bytes gives an error wrapping store.ErrCorrupt.
func (c *Client) GetChunk(ctx context.Context, id store.ChunkID) ([]byte, error) {
	data, err := c.get(ctx, id, "")
	if err != nil {
		return nil, err
	}
	if err := store.Verify(id, data); err != nil {
		return nil, fmt.Errorf("get chunk %s from %s: %w", id, c.BaseURL, err)
	}
	return data, nil
}

// GetChunkRange returns length bytes of chunk id from off (length < 0: to
// the end), like store.Backend.Get: an off at or beyond the end gives no
// bytes. A range cannot be checked against the chunk's hash, so the bytes are
// not verified; callers that need that use GetChunk.
func (c *Client) GetChunkRange(ctx context.Context, id store.ChunkID, off, length int64) ([]byte, error) {
	if off < 0 {
		return nil, fmt.Errorf("get chunk %s from %s: negative offset %d: %w", id, c.BaseURL, off, ErrBadRequest)
	}
	if length == 0 {
		_, err := c.StatChunk(ctx, id)
		return []byte{}, err
	}
	rng := fmt.Sprintf("bytes=%d-", off)
	if length > 0 {
		last := off + length - 1
		if last < off { // overflow: to the end
			last = 1<<63 - 1
		}
		rng += strconv.FormatInt(last, 10)
	}
	data, err := c.get(ctx, id, rng)
	if errors.Is(err, errRangeNotSatisfiable) {
		return []byte{}, nil
	}
	return data, err
}

var errRangeNotSatisfiable = errors.New("range not satisfiable")

func (c *Client) get(ctx context.Context, id store.ChunkID, rng string) ([]byte, error) {
	hdr := http.Header{}
	if rng != "" {
		hdr.Set("Range", rng)
	}
	resp, err := c.do(ctx, http.MethodGet, "/v1/chunks/"+id.String(), hdr, nil)
	if err != nil {
		return nil, fmt.Errorf("get chunk %s: %w", id, err)
	}
	defer resp.Body.Close()
	want := http.StatusOK
	if rng != "" {
		want = http.StatusPartialContent
	}
	if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && rng != "" {
		return nil, errRangeNotSatisfiable
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("get chunk %s from %s: %w", id, c.BaseURL, statusError(resp))
	}
	if resp.ContentLength > DefaultMaxBody {
		return nil, fmt.Errorf("get chunk %s from %s: %d bytes is over the limit", id, c.BaseURL, resp.ContentLength)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, DefaultMaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("get chunk %s from %s: reading: %w", id, c.BaseURL, err)
	}
	if n > DefaultMaxBody {
		return nil, fmt.Errorf("get chunk %s from %s: answer over the %d-byte limit", id, c.BaseURL, int64(DefaultMaxBody))
	}
	return buf.Bytes(), nil
}

// PutChunk stores data as chunk id on the peer. data must hash to id (it is
// checked here first: a mismatch gives store.ErrCorrupt and sends nothing).
func (c *Client) PutChunk(ctx context.Context, id store.ChunkID, data []byte) error {
	if err := store.Verify(id, data); err != nil {
		return fmt.Errorf("put chunk %s on %s: %w", id, c.BaseURL, err)
	}
	resp, err := c.do(ctx, http.MethodPut, "/v1/chunks/"+id.String(), nil, data)
	if err != nil {
		return fmt.Errorf("put chunk %s: %w", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("put chunk %s on %s: %w", id, c.BaseURL, statusError(resp))
	}
	return nil
}

// StatChunk returns the size of chunk id on the peer, or an error wrapping
// store.ErrNotFound.
func (c *Client) StatChunk(ctx context.Context, id store.ChunkID) (int64, error) {
	resp, err := c.do(ctx, http.MethodHead, "/v1/chunks/"+id.String(), nil, nil)
	if err != nil {
		return 0, fmt.Errorf("stat chunk %s: %w", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("stat chunk %s on %s: %w", id, c.BaseURL, statusError(resp))
	}
	if resp.ContentLength < 0 {
		return 0, fmt.Errorf("stat chunk %s on %s: no size in the answer", id, c.BaseURL)
	}
	return resp.ContentLength, nil
}

// HasChunk reports whether the peer holds chunk id.
func (c *Client) HasChunk(ctx context.Context, id store.ChunkID) (bool, error) {
	_, err := c.StatChunk(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// DeleteChunk removes chunk id from the peer; deleting a missing chunk is not
// an error.
func (c *Client) DeleteChunk(ctx context.Context, id store.ChunkID) error {
	resp, err := c.do(ctx, http.MethodDelete, "/v1/chunks/"+id.String(), nil, nil)
	if err != nil {
		return fmt.Errorf("delete chunk %s: %w", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("delete chunk %s on %s: %w", id, c.BaseURL, statusError(resp))
	}
	return nil
}

// ListChunks returns up to limit chunks (0: the server's default; the server
// caps it at MaxListLimit) whose IDs follow after, in ID order; the zero ID
// starts from the beginning. more reports that further chunks follow the
// last one returned: pass its ID as after for the next page.
func (c *Client) ListChunks(ctx context.Context, after store.ChunkID, limit int) (chunks []ChunkInfo, more bool, err error) {
	q := url.Values{}
	if !after.IsZero() {
		q.Set("after", after.String())
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/v1/chunks"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, false, fmt.Errorf("list chunks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false, fmt.Errorf("list chunks on %s: %w", c.BaseURL, statusError(resp))
	}
	var lr listResponse
	// An entry is under 100 bytes of JSON.
	if err := json.NewDecoder(io.LimitReader(resp.Body, 100*MaxListLimit+1024)).Decode(&lr); err != nil {
		return nil, false, fmt.Errorf("list chunks on %s: decoding: %w", c.BaseURL, err)
	}
	chunks = make([]ChunkInfo, 0, len(lr.Chunks))
	for _, e := range lr.Chunks {
		id, err := store.ParseChunkID(e.ID)
		if err != nil {
			return nil, false, fmt.Errorf("list chunks on %s: %w", c.BaseURL, err)
		}
		chunks = append(chunks, ChunkInfo{ID: id, Size: e.Size})
	}
	return chunks, lr.More, nil
}

// do sends a signed request. A transport failure other than ctx's end wraps
// store.ErrUnreachable.
func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, body []byte) (*http.Response, error) {
	u := strings.TrimSuffix(c.BaseURL, "/") + path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", c.BaseURL, err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if err := Sign(req, c.Key, body, now()); err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("peer %s: %w", c.BaseURL, err)
		}
		return nil, fmt.Errorf("peer %s: %w: %w", c.BaseURL, store.ErrUnreachable, err)
	}
	return resp, nil
}

// statusError translates a failed answer into the matching sentinel error,
// with the first line of the peer's message.
func statusError(resp *http.Response) error {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	line, _, _ := strings.Cut(strings.TrimSpace(string(msg)), "\n")
	var sentinel error
	switch resp.StatusCode {
	case http.StatusNotFound:
		sentinel = store.ErrNotFound
	case http.StatusInsufficientStorage:
		sentinel = store.ErrNoSpace
	case http.StatusUnauthorized:
		sentinel = ErrUnauthorized
	case http.StatusServiceUnavailable:
		sentinel = ErrUnavailable
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusRequestedRangeNotSatisfiable, http.StatusMethodNotAllowed:
		sentinel = ErrBadRequest
	default:
		return fmt.Errorf("peer answered %s: %q", resp.Status, line)
	}
	return fmt.Errorf("%w (peer answered %s: %q)", sentinel, resp.Status, line)
}
