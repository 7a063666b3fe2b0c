package cluster

import (
	"errors"
	"strings"
	"testing"
)

func longestMeta() NodeMeta {
	return NodeMeta{
		Name:     strings.Repeat("n", maxNameLen),
		HTTPAddr: strings.Repeat("h", maxAddrLen-6) + ":65535",
		Zone:     strings.Repeat("z", maxZoneLen),
		Capacity: ^uint64(0),
		Used:     ^uint64(0),
		State:    StateLeaving,
		Version:  strings.Repeat("v", maxVersionLen),
		RaftAddr: strings.Repeat("r", maxAddrLen-6) + ":65535",
	}
}

func TestMetaRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    NodeMeta
	}{
		{"minimal", NodeMeta{Name: "a"}},
		{"typical", NodeMeta{Name: "node-1.rack_2", HTTPAddr: "10.0.0.1:7948", Zone: "eu-west-1a", Capacity: 4 << 40, Used: 1 << 39, State: StateActive, Version: "v0.3.1"}},
		{"draining", NodeMeta{Name: "n2", HTTPAddr: "[fd00::1]:7948", Capacity: 1, Used: 1, State: StateDraining}},
		{"longest", longestMeta()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodeMeta(tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > MetaMaxSize {
				t.Fatalf("encoded %d bytes > %d", len(b), MetaMaxSize)
			}
			got, err := DecodeMeta(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.m {
				t.Fatalf("round trip: got %+v, want %+v", got, tc.m)
			}
		})
	}
}

func TestMetaLongestFitsLimit(t *testing.T) {
	b, err := EncodeMeta(longestMeta())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("longest allowed metadata encodes to %d bytes (limit %d)", len(b), MetaMaxSize)
	if len(b) > MetaMaxSize {
		t.Fatalf("%d bytes > %d", len(b), MetaMaxSize)
	}
}

func TestEncodeMetaRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*NodeMeta)
	}{
		{"empty name", func(m *NodeMeta) { m.Name = "" }},
		{"long name", func(m *NodeMeta) { m.Name = strings.Repeat("a", maxNameLen+1) }},
		{"bad name", func(m *NodeMeta) { m.Name = "a b" }},
		{"long addr", func(m *NodeMeta) { m.HTTPAddr = strings.Repeat("a", maxAddrLen+1) }},
		{"long zone", func(m *NodeMeta) { m.Zone = strings.Repeat("a", maxZoneLen+1) }},
		{"control in zone", func(m *NodeMeta) { m.Zone = "a\nb" }},
		{"long version", func(m *NodeMeta) { m.Version = strings.Repeat("a", 1000) }},
		{"bad state", func(m *NodeMeta) { m.State = 9 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NodeMeta{Name: "a"}
			tc.mod(&m)
			if b, err := EncodeMeta(m); err == nil {
				t.Fatalf("EncodeMeta accepted %+v (%d bytes)", m, len(b))
			}
		})
	}
}

func TestDecodeMetaRejects(t *testing.T) {
	good, err := EncodeMeta(NodeMeta{Name: "node", HTTPAddr: "127.0.0.1:1", Zone: "z", Capacity: 1000, Used: 10, Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(good); i++ {
		if _, err := DecodeMeta(good[:i]); !errors.Is(err, ErrBadMeta) {
			t.Errorf("prefix of %d bytes: err = %v, want ErrBadMeta", i, err)
		}
	}
	if _, err := DecodeMeta(append(good, 0)); !errors.Is(err, ErrBadMeta) {
		t.Errorf("trailing byte: err = %v", err)
	}
	v0 := append([]byte{0}, good[1:]...)
	if _, err := DecodeMeta(v0); !errors.Is(err, ErrBadMeta) {
		t.Errorf("version 0: err = %v", err)
	}
	// A newer version may append fields.
	v3 := append(append([]byte{3}, good[1:]...), 1, 2, 3)
	if m, err := DecodeMeta(v3); err != nil || m.Name != "node" {
		t.Errorf("version 3 with extra fields: %+v, %v", m, err)
	}
	// Version 1 had no Raft address.
	v1 := append([]byte{1}, good[1:len(good)-1]...)
	if m, err := DecodeMeta(v1); err != nil || m.Name != "node" || m.RaftAddr != "" {
		t.Errorf("version 1: %+v, %v", m, err)
	}
	if _, err := DecodeMeta(make([]byte, MetaMaxSize+1)); !errors.Is(err, ErrBadMeta) {
		t.Errorf("oversized: err = %v", err)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	for _, m := range []NodeMeta{{Name: "a"}, longestMeta(), {Name: "n", HTTPAddr: "1.2.3.4:5", Zone: "z", Capacity: 300, Used: 200, State: StateDraining, Version: "v"}} {
		b, err := EncodeMeta(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			if !errors.Is(err, ErrBadMeta) {
				t.Fatalf("error %v does not wrap ErrBadMeta", err)
			}
			return
		}
		enc, err := EncodeMeta(m)
		if err != nil {
			t.Fatalf("decoded %+v but cannot encode it: %v", m, err)
		}
		if len(enc) > MetaMaxSize {
			t.Fatalf("re-encoded to %d bytes", len(enc))
		}
		m2, err := DecodeMeta(enc)
		if err != nil || m2 != m {
			t.Fatalf("re-decode: %+v, %v; want %+v", m2, err, m)
		}
	})
}
