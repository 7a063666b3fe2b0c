package errstore_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/errstore"
	"github.com/dfsproject/dfs/store/storetest"
)

// With no failures set, a Store behaves exactly as the backend it wraps.
func TestPassThroughConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend { return errstore.New(store.NewMemory()) })
}

func TestFailures(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMemory()
	es := errstore.New(mem)
	put := func(k string) error { return es.Put(ctx, k, strings.NewReader("x"), 1) }

	es.FailNext(errstore.OpPut, store.ErrNoSpace, 2)
	for i := range 2 {
		if err := put("a"); !errors.Is(err, store.ErrNoSpace) {
			t.Fatalf("Put %d: %v, want ErrNoSpace", i, err)
		}
	}
	if _, err := mem.Stat(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed Put reached the backend: %v", err)
	}
	if err := put("a"); err != nil {
		t.Fatalf("third Put: %v", err)
	}
	if n := es.Calls(errstore.OpPut); n != 3 {
		t.Fatalf("Calls(put) = %d, want 3", n)
	}

	es.FailAlways(errstore.OpGet, syscall.EIO)
	for range 3 {
		if _, err := es.Get(ctx, "a", 0, -1); !errors.Is(err, syscall.EIO) {
			t.Fatalf("Get: %v, want EIO", err)
		}
	}
	if _, err := es.Stat(ctx, "a"); err != nil {
		t.Fatalf("Stat is not failing: %v", err)
	}
	es.FailNext(errstore.OpStat, store.ErrUnreachable, 1)
	es.FailNext(errstore.OpDelete, syscall.EIO, 1)
	es.FailNext(errstore.OpList, syscall.EIO, 1)
	if _, err := es.Stat(ctx, "a"); !errors.Is(err, store.ErrUnreachable) {
		t.Fatalf("Stat: %v", err)
	}
	if err := es.Delete(ctx, "a"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Delete: %v", err)
	}
	if err := es.List(ctx, "", func(store.ObjectInfo) error { return nil }); !errors.Is(err, syscall.EIO) {
		t.Fatalf("List: %v", err)
	}
	es.FailNext(errstore.OpPut, syscall.EIO, 0) // clears
	if err := put("b"); err != nil {
		t.Fatalf("Put after FailNext(0): %v", err)
	}

	es.Reset()
	if es.Calls(errstore.OpGet) != 0 {
		t.Fatal("Reset kept the counts")
	}
	if _, err := es.Get(ctx, "a", 0, -1); err != nil {
		t.Fatalf("Get after Reset: %v", err)
	}
	if es.Calls(errstore.OpGet) != 1 || es.Unwrap() != store.Backend(mem) {
		t.Fatal("Calls or Unwrap wrong")
	}
	mem.SetCapacity(100)
	if sp, err := es.Space(ctx); err != nil || sp.Total != 100 {
		t.Fatalf("Space = %+v, %v", sp, err)
	}
}
