package repair_test

import (
	"github.com/dfsproject/dfs/cluster/repair"
	"github.com/dfsproject/dfs/store/meta"
)

// The namespace is what the daemon gives the keeper as its Chunks.
var _ repair.Chunks = (*meta.FSM)(nil)
