package meta

import (
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/dfsproject/dfs/store"
)

// Splitting. A command whose slot work does not fit one transaction
// (Commit of thousands of slots, truncate or Reclaim of a huge file,
// ForgetChunks of many IDs) is applied as a series of partial
// transactions followed by the final one:
//
//   - the partial transactions do only idempotent slot work, each slot
//     change committed together with the reference counts it moves:
//     deleting the slots from some index on, setting slots to given
//     values, deleting xattrs, forgetting zero-reference records;
//   - the final transaction is the ordinary Apply of the command (its
//     inode, stats and applied index), told which slot work is done.
//
// The partial transactions never write the applied index, so if the
// process dies between them the log entry is applied again from the
// start; re-running a step on a state where it already ran (fully or in
// part) changes nothing, and a later step that an earlier one undid on
// replay (DropFrom deleting slots that Chunks had set) is redone by the
// steps after it. The final state is the same as with one transaction.
// The command is validated before the first partial transaction, and
// the partial steps change nothing the validation looks at, so a replay
// validates the same way. Readers may see the slot work in progress (a
// file being truncated or rewritten shows a mix of old and new slots
// until the final transaction); Result.Freed lists the chunks freed in
// every step unless the process died in between (ZeroRefChunks still
// lists them).

// splitStep does up to batch units of one kind of slot work starting at
// pos; it returns the next pos and whether the work is done.
type splitStep func(a *applier, pos, batch int) (next int, done bool, err error)

func dropSlotsStep(ino Ino, from uint64) splitStep {
	return func(a *applier, _, batch int) (int, bool, error) {
		n, err := a.dropSlots(ino, from, batch)
		return 0, n < batch, err
	}
}

func dropXattrsStep(ino Ino) splitStep {
	return func(a *applier, _, batch int) (int, bool, error) {
		n, err := a.dropXattrs(ino, batch)
		return 0, n < batch, err
	}
}

func setSlotsStep(ino Ino, slots []ChunkRef) splitStep {
	return func(a *applier, pos, batch int) (int, bool, error) {
		end := min(pos+batch, len(slots))
		for _, r := range slots[pos:end] {
			if err := a.setSlot(ino, r); err != nil {
				return 0, false, err
			}
		}
		return end, end == len(slots), nil
	}
}

func forgetStep(ids []store.ChunkID) splitStep {
	return func(a *applier, pos, batch int) (int, bool, error) {
		end := min(pos+batch, len(ids))
		return end, end == len(ids), a.forgetChunks(ids[pos:end])
	}
}

// splitPlan returns the partial steps of cmd and whether the final
// transaction must skip the slot work. No steps: the command cannot be
// split (or fails validation, which the final transaction reports).
func (f *FSM) splitPlan(cmd *Cmd) (steps []splitStep, skipSlots bool, err error) {
	err = f.db.View(func(txn *badger.Txn) error {
		a, err := newApplier(f, txn, cmd)
		if err != nil {
			return err
		}
		if cmd.Op == OpForgetChunks {
			steps, skipSlots = []splitStep{forgetStep(cmd.ChunkIDs)}, true
			return nil
		}
		n, err := a.inode(cmd.Ino)
		if err != nil {
			return err
		}
		switch cmd.Op {
		case OpCommit:
			if a.checkCommit(n) != 0 {
				return nil
			}
			if e, err := a.checkTombstones(); e != 0 || err != nil {
				return err
			}
			switch {
			case cmd.SetInline:
				steps = []splitStep{dropSlotsStep(cmd.Ino, 0)}
			case n.Inline && len(cmd.Chunks) == 0:
				return nil
			default:
				if cmd.HasDropFrom {
					steps = append(steps, dropSlotsStep(cmd.Ino, cmd.DropFrom))
				}
				steps = append(steps,
					setSlotsStep(cmd.Ino, commitChunks(cmd.Chunks)),
					dropSlotsStep(cmd.Ino, firstSlotPast(cmd.Size, cmd.ChunkSize)))
			}
			skipSlots = true
		case OpSetAttr:
			if a.checkSetAttr(n) != 0 || cmd.Valid&SetSize == 0 || n.Inline || cmd.Size >= n.Size {
				return nil
			}
			steps = []splitStep{dropSlotsStep(cmd.Ino, firstSlotPast(cmd.Size, cmd.ChunkSize))}
		case OpReclaim:
			if ok, _ := a.checkReclaim(n); ok {
				steps = []splitStep{dropSlotsStep(cmd.Ino, 0), dropXattrsStep(cmd.Ino)}
			}
		}
		return nil
	})
	return steps, skipSlots, err
}

// applySplit applies cmd as partial transactions and a final one.
func (f *FSM) applySplit(index uint64, cmd *Cmd) (*Result, error) {
	steps, skipSlots, err := f.splitPlan(cmd)
	if err != nil {
		return nil, fmt.Errorf("plan split of %v: %w", cmd.Op, err)
	}
	if len(steps) == 0 {
		// Nothing to split: one transaction without the operation
		// limit, which fails only if badger itself refuses it.
		return f.applyFinal(index, cmd, nil, false, 0)
	}
	f.log.Debug("meta: splitting command", "index", index, "op", cmd.Op, "steps", len(steps))
	var prior []store.ChunkID
	batch := max(f.maxTxnOps, 1)
	txns := 0
	for _, step := range steps {
		pos := 0
		for done := false; !done; {
			var next int
			var zeroed []store.ChunkID
			err := f.update(func(txn *badger.Txn) error {
				a, err := newApplier(f, txn, cmd)
				if err != nil {
					return err
				}
				if next, done, err = step(a, pos, batch); err != nil {
					return err
				}
				zeroed = a.zeroed
				if f.splitHook != nil {
					return f.splitHook(txns)
				}
				return nil
			})
			if errors.Is(err, badger.ErrTxnTooBig) && batch > 1 {
				batch /= 2
				done = false
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("partial transaction %d of %v: %w", txns, cmd.Op, err)
			}
			txns++
			pos = next
			prior = append(prior, zeroed...)
		}
	}
	return f.applyFinal(index, cmd, prior, skipSlots, 0)
}
