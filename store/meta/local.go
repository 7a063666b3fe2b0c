package meta

import (
	"context"
	"sync"
	"time"
)

var _ Proposer = (*Local)(nil)

// Local is the single-node Proposer: it applies each command directly to
// its FSM, numbering them after the FSM's applied index. It is safe for
// concurrent use; commands are applied one at a time, in the order Local
// receives them. Nothing else may Apply to the FSM while a Local uses it.
type Local struct {
	mu sync.Mutex
	f  *FSM
}

// NewLocal returns a Proposer that applies to f.
func NewLocal(f *FSM) *Local { return &Local{f: f} }

// Propose applies cmd and returns its Result. A cmd with Now 0 is given
// the current time (cmd itself is not changed). The error is ctx's if it
// is done before the command is applied, ErrClosed, or a storage failure
// (the command then not applied).
func (l *Local) Propose(ctx context.Context, cmd *Cmd) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cmd.Now == 0 {
		c := *cmd
		c.Now = time.Now().UnixNano()
		cmd = &c
	}
	data, err := Encode(cmd)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.f.apply(l.f.AppliedIndex()+1, data)
}

// Sync makes every applied command durable.
func (l *Local) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.f.Sync()
}
