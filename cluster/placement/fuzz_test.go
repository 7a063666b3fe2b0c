package placement

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func FuzzDecodeLayout(f *testing.F) {
	for _, l := range sampleLayouts()[:3] { // not the 564 KiB one: it stalls the fuzzer
		b, err := l.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{2, 0, 3, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLayout(b)
		if err != nil {
			if !errors.Is(err, ErrBadLayout) {
				t.Fatalf("error %v does not wrap ErrBadLayout", err)
			}
			return
		}
		// Whatever decodes is valid and canonical.
		again, err := l.Encode()
		if err != nil {
			t.Fatalf("decoded layout does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decoded %x, encoded again %x", b, again)
		}
		p := mustCompile(t, l)
		id := [32]byte{b[0]}
		checkPlacement(t, l, p.Place(id), nil)
	})
}

// fuzzLayout builds a valid layout from arbitrary bytes: the first byte
// gives R, then each 4 bytes a node: zone, state and weight.
func fuzzLayout(b []byte) *Layout {
	l := &Layout{Replicas: 3}
	if len(b) > 0 {
		l.Replicas = 1 + int(b[0])%MaxReplicas
		b = b[1:]
	}
	zones := []string{"", "a", "b", "c", "d"}
	for i := 0; len(b) >= 4 && i < 64; i++ {
		n := Node{Name: fmt.Sprintf("n%02d", i), Zone: zones[int(b[0]&7)%len(zones)]}
		if b[0]&8 != 0 {
			n.State = Draining
		}
		switch w := binary.LittleEndian.Uint16(b[1:]); b[3] & 3 {
		case 0:
			n.Weight = 1 << 40 // equal weights are common
		case 1:
			n.Weight = uint64(w) + 1
		case 2:
			n.Weight = ^uint64(0) - uint64(w)
		default:
			n.Weight = uint64(w)<<32 + uint64(b[3])
		}
		l.Nodes = append(l.Nodes, n)
		b = b[4:]
	}
	// Present the nodes in an order the bytes choose.
	if len(b) > 0 && len(l.Nodes) > 1 {
		slices.Reverse(l.Nodes)
		k := int(b[0]) % len(l.Nodes)
		l.Nodes = append(l.Nodes[k:], l.Nodes[:k]...)
	}
	return l
}

func FuzzPlace(f *testing.F) {
	f.Add([]byte{2, 0, 1, 0, 0, 1, 1, 0, 0, 2, 1, 0, 0}, uint64(1), uint64(2), uint64(3), uint64(4))
	f.Add([]byte{6, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 1, 3, 3, 3, 2}, uint64(0), uint64(0), uint64(0), uint64(0))
	f.Add(bytes.Repeat([]byte{1, 2, 3, 4, 5}, 40), uint64(7), uint64(8), uint64(9), uint64(10))
	f.Fuzz(func(t *testing.T, lb []byte, a, b, c, d uint64) {
		l := fuzzLayout(lb)
		p := mustCompile(t, l)
		var id [32]byte
		binary.LittleEndian.PutUint64(id[0:], a)
		binary.LittleEndian.PutUint64(id[8:], b)
		binary.LittleEndian.PutUint64(id[16:], c)
		binary.LittleEndian.PutUint64(id[24:], d)

		got := p.Place(id)
		checkPlacement(t, l, got, nil)
		if len(got) != p.EffectiveReplicas() || len(got) != l.EffectiveReplicas() {
			t.Fatalf("placed on %d nodes, EffectiveReplicas says %d and %d", len(got), p.EffectiveReplicas(), l.EffectiveReplicas())
		}
		if want := naivePlace(l, id, nil); !slices.Equal(got, want) {
			t.Fatalf("Place = %q, naive %q", got, want)
		}
		order := p.Order(id)
		if !slices.Equal(order[:len(got)], got) {
			t.Fatalf("Order %q does not start with Place %q", order, got)
		}
		names := make([]string, len(l.Nodes))
		for i, n := range l.Nodes {
			names[i] = n.Name
		}
		if !slices.Equal(slices.Sorted(slices.Values(order)), slices.Sorted(slices.Values(names))) {
			t.Fatalf("Order %q is not a permutation of the nodes %q", order, names)
		}
		avoid := func(name string) bool { return nameHash(name)&3 == a&3 }
		got = p.PlaceAvoiding(id, avoid)
		checkPlacement(t, l, got, avoid)
	})
}
