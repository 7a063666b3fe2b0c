package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Node administration: POST /v1/nodes/NAME/ACTION, ACTION one of
// NodeActions; ?force=1 skips the safety check of remove.
const nodesPrefix = "/v1/nodes/"

// Replication health: GET /v1/replication is the leader's sum,
// GET /v1/replication/local this node's share.
const (
	replicationPath      = "/v1/replication"
	localReplicationPath = "/v1/replication/local"
)

// NodeActions are what an operator can do to a node of the layout:
// "drain" stops new chunks going to it and moves its chunks away,
// "undrain" makes it active again, "remove" takes it out of the cluster.
var NodeActions = []string{"drain", "undrain", "remove"}

// ErrRefused is wrapped by a NodeAdmin's error when the action was
// refused as unsafe or impossible, as fmt.Errorf("%w: sentence"); the
// handler answers 409 Conflict with the sentence, and the Client's error
// is the sentence, wrapping ErrRefused.
var ErrRefused = errors.New("refused")

// NodeResult is the answer to a node action.
type NodeResult struct {
	Node   string `json:"node"`
	Action string `json:"action"`
	// LayoutVersion is the layout version that carries the change.
	LayoutVersion uint64 `json:"layout_version"`
	// Message is one sentence on what happened and what comes next.
	Message string `json:"message"`
}

// NodeAdmin is implemented by a Source that can change the layout.
type NodeAdmin interface {
	// NodeAction applies action (one of NodeActions) to the named node.
	NodeAction(ctx context.Context, node, action string, force bool) (NodeResult, error)
}

// ReplicationSource is implemented by a Source that knows replication
// health.
type ReplicationSource interface {
	// LocalReplication is this node's share.
	LocalReplication() NodeReplication
	// ClusterReplication is the leader's sum (asked of the leader when
	// this node does not lead).
	ClusterReplication(ctx context.Context) (ClusterReplication, error)
}

func (h *handler) serveNode(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, nodesPrefix)
	name, action, ok := strings.Cut(rest, "/")
	admin, isAdmin := h.src.(NodeAdmin)
	if !methodIs(w, r, http.MethodPost) {
		return
	}
	switch {
	case !ok || name == "" || !slices.Contains(NodeActions, action):
		writeError(w, http.StatusNotFound, "no such route %.160q; use POST %sNAME/ACTION, ACTION one of %s", r.URL.Path, nodesPrefix, strings.Join(NodeActions, ", "))
		return
	case !isAdmin:
		writeError(w, http.StatusNotImplemented, "this node has no placement layout: it is not part of a cluster")
		return
	}
	force := r.URL.Query().Get("force") == "1"
	res, err := admin.NodeAction(r.Context(), name, action, force)
	switch {
	case errors.Is(err, ErrRefused):
		writeError(w, http.StatusConflict, "%s", strings.TrimPrefix(err.Error(), ErrRefused.Error()+": "))
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "%s %s: %v", action, name, err)
	default:
		writeJSON(w, res)
	}
}

func (h *handler) serveReplication(w http.ResponseWriter, r *http.Request) {
	src, ok := h.src.(ReplicationSource)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this node keeps no replicas: it is not part of a cluster")
		return
	}
	if r.URL.Path == localReplicationPath {
		writeJSON(w, src.LocalReplication())
		return
	}
	cr, err := src.ClusterReplication(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	if cr.Nodes == nil {
		cr.Nodes = []NodeReplication{}
	}
	writeJSON(w, cr)
}

// NodeAction asks the node to apply action to the named node. A refusal
// wraps ErrRefused. Only ctx bounds the call: a remove first checks every
// chunk's copies.
func (c *Client) NodeAction(ctx context.Context, node, action string, force bool) (NodeResult, error) {
	uri := nodesPrefix + url.PathEscape(node) + "/" + url.PathEscape(action)
	if force {
		uri += "?force=1"
	}
	var res NodeResult
	resp, err := c.do(ctx, http.MethodPost, uri)
	if err != nil {
		var se *statusErr
		if errors.As(err, &se) && se.code == http.StatusConflict {
			return res, &sentence{msg: se.reason, errs: []error{ErrRefused}}
		}
		return res, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return res, c.unreachable(err)
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return res, fmt.Errorf("dfsd at %s answered something that is not the expected JSON: %w", c.where(), err)
	}
	return res, nil
}

// Replication asks for the cluster's replication health, as the leader
// summed it.
func (c *Client) Replication(ctx context.Context) (ClusterReplication, error) {
	var cr ClusterReplication
	err := c.get(ctx, replicationPath, &cr)
	return cr, err
}

// LocalReplication asks for the node's own share of the replication
// health.
func (c *Client) LocalReplication(ctx context.Context) (NodeReplication, error) {
	var nr NodeReplication
	err := c.get(ctx, localReplicationPath, &nr)
	return nr, err
}
