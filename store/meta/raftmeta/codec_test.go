package raftmeta

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestLogCodec(t *testing.T) {
	logs := []*raft.Log{
		{},
		{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("x")},
		{Index: 2, Term: 1 << 63, Type: raft.LogConfiguration, Extensions: []byte("only ext")},
		{Index: 3, Term: 7, Type: raft.LogBarrier, Data: []byte("data"), Extensions: []byte("ext"),
			AppendedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
		{Index: 4, Term: 1, AppendedAt: time.Unix(-5, 0)}, // before 1970
	}
	for _, want := range logs {
		b := appendLog(nil, want)
		if len(b) > maxLogHeader+len(want.Data)+len(want.Extensions) {
			t.Errorf("entry %d: %d bytes, above the bound", want.Index, len(b))
		}
		var got raft.Log
		if err := decodeLog(want.Index, b, &got); err != nil {
			t.Fatalf("decode %d: %v", want.Index, err)
		}
		if !sameLog(&got, want) || got.AppendedAt.IsZero() != want.AppendedAt.IsZero() {
			t.Errorf("round trip of %+v = %+v", *want, got)
		}
	}

	// Data and Extensions share one buffer; appending to Extensions must
	// not overwrite Data.
	var got raft.Log
	if err := decodeLog(3, appendLog(nil, logs[3]), &got); err != nil {
		t.Fatal(err)
	}
	_ = append(got.Extensions, "XXXX"...)
	if string(got.Data) != "data" {
		t.Errorf("append to Extensions changed Data to %q", got.Data)
	}

	bad := map[string][]byte{
		"empty":           nil,
		"version only":    {logVersion},
		"unknown version": append([]byte{9}, appendLog(nil, logs[1])[1:]...),
		"no term":         {logVersion, 0},
		"no time":         {logVersion, 0, 1},
		"no ext length":   {logVersion, 0, 1, 0},
		"ext too long":    {logVersion, 0, 1, 0, 5, 'a'},
	}
	for name, v := range bad {
		if err := decodeLog(1, v, &got); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decode = %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzLogCodec(f *testing.F) {
	f.Add(uint64(1), uint64(1), uint8(0), []byte("data"), []byte(nil), int64(0))
	f.Add(uint64(1<<64-1), uint64(1<<64-1), uint8(5), []byte(nil), []byte("ext"), int64(1<<62))
	f.Fuzz(func(t *testing.T, index, term uint64, typ uint8, data, ext []byte, at int64) {
		want := &raft.Log{Index: index, Term: term, Type: raft.LogType(typ), Data: data, Extensions: ext}
		if at != 0 {
			want.AppendedAt = time.Unix(0, at)
		}
		b := appendLog(nil, want)
		var got raft.Log
		if err := decodeLog(index, b, &got); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !sameLog(&got, want) {
			t.Fatalf("round trip of %+v = %+v", *want, got)
		}
		// Any bytes decode or fail cleanly, and never alias the input.
		raw := append([]byte{logVersion}, data...)
		if err := decodeLog(index, raw, &got); err == nil && len(got.Data) > 0 {
			got.Data[0]++
			if !bytes.Equal(raw, append([]byte{logVersion}, data...)) {
				t.Fatalf("decoded Data aliases the stored value")
			}
		}
	})
}
