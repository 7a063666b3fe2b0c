package meta

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"github.com/dgraph-io/badger/v4"
)

// MaxLayoutLen bounds an encoded layout (OpSetLayout's Value).
const MaxLayoutLen = 1 << 20

var keyLayout = []byte{pfxLayout}

// setLayout replaces the layout. The versions make concurrent changes
// safe: a leader that computed its change from an older layout gets
// ESTALE and starts again from the current one.
func (a *applier) setLayout() (syscall.Errno, error) {
	if len(a.cmd.Value) == 0 || len(a.cmd.Value) > MaxLayoutLen {
		return syscall.EINVAL, nil
	}
	_, cur, err := readLayout(a.txn)
	if err != nil {
		return 0, err
	}
	if a.cmd.Size != cur+1 {
		return syscall.ESTALE, nil
	}
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(a.cmd.Value)), a.cmd.Size)
	if err := a.txn.Set(keyLayout, append(v, a.cmd.Value...)); err != nil {
		return 0, fmt.Errorf("write layout: %w", err)
	}
	return 0, nil
}

func readLayout(txn *badger.Txn) ([]byte, uint64, error) {
	item, err := txn.Get(keyLayout)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read layout: %w", err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, 0, fmt.Errorf("read layout: %w", err)
	}
	if len(v) < 8 {
		return nil, 0, fmt.Errorf("%w: layout record of %d bytes", errCorrupt, len(v))
	}
	return v[8:], binary.BigEndian.Uint64(v), nil
}

// Layout implements Reader.
func (f *FSM) Layout(ctx context.Context) ([]byte, uint64, error) {
	var (
		b   []byte
		ver uint64
	)
	err := f.readView(ctx, func(txn *badger.Txn) error {
		var err error
		b, ver, err = readLayout(txn)
		return err
	})
	return b, ver, err
}
