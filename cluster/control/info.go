package control

import (
	"context"
	"net/http"
	"strconv"
)

const infoPath = "/v1/info"

// FileInfo is the answer to GET /v1/info?ino=N: a file's size and, for
// each chunk, which nodes hold its replicas.
type FileInfo struct {
	Ino    uint64      `json:"ino"`
	Size   uint64      `json:"size"`
	Mode   uint32      `json:"mode"`
	Inline bool        `json:"inline,omitempty"`
	Chunks []ChunkInfo `json:"chunks"`
}

// ChunkInfo is one slot of a file.
type ChunkInfo struct {
	Index    uint64        `json:"index"`
	ID       string        `json:"id"`
	Len      uint32        `json:"len"`
	Replicas []ReplicaInfo `json:"replicas"`
}

// ReplicaInfo says whether a node holds a chunk. Placed: the layout puts
// the chunk there.
type ReplicaInfo struct {
	Node   string `json:"node"`
	Placed bool   `json:"placed"`
	Has    bool   `json:"has"`
	Error  string `json:"error,omitempty"`
}

// InfoSource is implemented by a Source that can describe files.
type InfoSource interface {
	FileInfo(ctx context.Context, ino uint64) (FileInfo, error)
}

func (h *handler) serveInfo(w http.ResponseWriter, r *http.Request) {
	src, ok := h.src.(InfoSource)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this node cannot describe files")
		return
	}
	ino, ok := queryIno(w, r)
	if !ok {
		return
	}
	fi, err := src.FileInfo(r.Context(), ino)
	if err != nil {
		writeError(w, http.StatusNotFound, "inode %d: %v", ino, err)
		return
	}
	writeJSON(w, fi)
}

// queryIno parses the request's ?ino=N, answering 400 when it is not an
// inode number.
func queryIno(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	ino, err := strconv.ParseUint(r.URL.Query().Get("ino"), 10, 64)
	if err != nil || ino == 0 {
		writeError(w, http.StatusBadRequest, "ino must be an inode number, not %.40q", r.URL.Query().Get("ino"))
		return 0, false
	}
	return ino, true
}

// FileInfo asks for the chunks and replicas of inode ino.
func (c *Client) FileInfo(ctx context.Context, ino uint64) (FileInfo, error) {
	var fi FileInfo
	err := c.get(ctx, infoPath+"?ino="+strconv.FormatUint(ino, 10), &fi)
	return fi, err
}
