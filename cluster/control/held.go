package control

import (
	"context"
	"net/http"
	"strconv"
)

// GET /v1/held?ino=N asks whether this node has inode N open: a node asks
// every other one before it reclaims a file removed while open (an
// orphan), so that no host loses a file it still reads or writes.
const heldPath = "/v1/held"

// Held is the answer to GET /v1/held.
type Held struct {
	Ino  uint64 `json:"ino"`
	Held bool   `json:"held"`
}

// HoldSource is implemented by a Source whose node mounts the filesystem.
type HoldSource interface {
	// Holds reports whether this node has inode ino open; an error when
	// it cannot tell yet (the filesystem is not open).
	Holds(ino uint64) (bool, error)
}

func (h *handler) serveHeld(w http.ResponseWriter, r *http.Request) {
	src, ok := h.src.(HoldSource)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this node cannot tell which files it holds open")
		return
	}
	ino, ok := queryIno(w, r)
	if !ok {
		return
	}
	held, err := src.Holds(ino)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	writeJSON(w, Held{Ino: ino, Held: held})
}

// Holds asks whether the node has inode ino open.
func (c *Client) Holds(ctx context.Context, ino uint64) (bool, error) {
	var hd Held
	err := c.get(ctx, heldPath+"?ino="+strconv.FormatUint(ino, 10), &hd)
	return hd.Held, err
}
