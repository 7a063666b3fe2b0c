package meta

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Requests already applied (Cmd.ReqID). Each is kept as
//
//	'q' reqid        → applied index (8 bytes, big-endian), then the Result as JSON
//	'Q' index reqid  → empty, so the oldest are found first for pruning
//
// in the transaction that applies the command, so a crash can never leave
// a command applied but its request forgotten (or the reverse).

// pruneBatch bounds the old request records one Apply deletes: a few
// more than the one it adds, so the table shrinks back after a burst.
const pruneBatch = 4

func reqKey(id ReqID) []byte { return append([]byte{pfxReq}, id[:]...) }

func reqAgeKey(index uint64, id ReqID) []byte {
	k := make([]byte, 9, 25)
	k[0] = pfxReqAge
	binary.BigEndian.PutUint64(k[1:], index)
	return append(k, id[:]...)
}

// seenRequest returns the Result remembered for id, if any.
func seenRequest(txn *badger.Txn, id ReqID) (*Result, bool, error) {
	item, err := txn.Get(reqKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read request record: %w", err)
	}
	var res Result
	err = item.Value(func(v []byte) error {
		if len(v) < 8 {
			return fmt.Errorf("%w: request record of %d bytes", errCorrupt, len(v))
		}
		if err := json.Unmarshal(v[8:], &res); err != nil {
			return fmt.Errorf("%w: request record: %v", errCorrupt, err)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return &res, true, nil
}

// rememberRequest records that id was applied at index with res, and
// forgets up to pruneBatch requests applied window entries or more before
// index. It depends only on the log, so every replica keeps the
// same records.
func rememberRequest(txn *badger.Txn, index, window uint64, id ReqID, res *Result) error {
	body, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode request record: %w", err)
	}
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(body)), index)
	if err := txn.Set(reqKey(id), append(v, body...)); err != nil {
		return fmt.Errorf("write request record: %w", err)
	}
	if err := txn.Set(reqAgeKey(index, id), nil); err != nil {
		return fmt.Errorf("write request record: %w", err)
	}
	if index <= window {
		return nil
	}
	cutoff := index - window
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = []byte{pfxReqAge}
	it := txn.NewIterator(opts)
	var old [][]byte
	for it.Rewind(); it.Valid() && len(old) < pruneBatch; it.Next() {
		k := it.Item().KeyCopy(nil)
		if len(k) != 25 || binary.BigEndian.Uint64(k[1:9]) >= cutoff {
			break
		}
		old = append(old, k)
	}
	it.Close()
	for _, k := range old {
		var rid ReqID
		copy(rid[:], k[9:])
		if err := txn.Delete(k); err != nil {
			return fmt.Errorf("prune request record: %w", err)
		}
		if err := txn.Delete(reqKey(rid)); err != nil {
			return fmt.Errorf("prune request record: %w", err)
		}
	}
	return nil
}

// replayedRequest returns the Result of request id if it was applied
// before, after recording index as applied (the entry is answered, not
// applied again); nil if it is new.
func (f *FSM) replayedRequest(index uint64, id ReqID) (*Result, error) {
	var prev *Result
	err := f.update(func(txn *badger.Txn) error {
		res, ok, err := seenRequest(txn, id)
		if err != nil || !ok {
			return err
		}
		st, err := loadState(txn)
		if err != nil {
			return fmt.Errorf("load stats: %w", err)
		}
		st.Applied = index
		prev = res
		return txn.Set(keyStats, encodeState(&st))
	})
	return prev, err
}
