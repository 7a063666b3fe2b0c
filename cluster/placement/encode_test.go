package placement

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dfsproject/dfs/cluster/internal/wire"
)

func sampleLayouts() []*Layout {
	longest := &Layout{Version: ^uint64(0), Replicas: MaxReplicas}
	for i := range MaxNodes {
		name := fmt.Sprintf("%064d", i)
		longest.Nodes = append(longest.Nodes, Node{Name: name, Zone: strings.Repeat("z", MaxZoneLen), Weight: ^uint64(0), State: Draining})
	}
	return []*Layout{
		{Replicas: 1},
		{Version: 1, Replicas: 3, Nodes: []Node{{Name: "a", Weight: 1}}},
		{Version: 300, Replicas: 3, Nodes: []Node{
			{Name: "node-1", Zone: "eu-west-1a", Weight: 4 << 40},
			{Name: "node-2", Zone: "eu-west-1b", Weight: 2 << 40, State: Draining},
			{Name: "node-3", Weight: 1},
		}},
		longest,
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, l := range sampleLayouts() {
		t.Run(fmt.Sprintf("%d nodes", len(l.Nodes)), func(t *testing.T) {
			b, err := l.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > MaxEncodedSize {
				t.Fatalf("%d bytes > MaxEncodedSize %d", len(b), MaxEncodedSize)
			}
			got, err := DecodeLayout(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != l.Version || got.Replicas != l.Replicas || !slices.Equal(got.Nodes, l.Nodes) {
				t.Fatalf("round trip changed the layout: %+v", got)
			}
		})
	}
}

// The largest layout is exactly MaxEncodedSize bytes: the limit is
// neither too small nor loose.
func TestMaxEncodedSize(t *testing.T) {
	l := sampleLayouts()[3]
	b, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != MaxEncodedSize {
		t.Fatalf("largest layout encodes to %d bytes, MaxEncodedSize is %d", len(b), MaxEncodedSize)
	}
	t.Logf("largest layout: %d bytes", len(b))
}

func TestEncodeCanonical(t *testing.T) {
	l := sampleLayouts()[2]
	b1, _ := l.Encode()
	shuffled := *l
	shuffled.Nodes = slices.Clone(l.Nodes)
	slices.Reverse(shuffled.Nodes)
	b2, err := shuffled.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatalf("node order changed the encoding:\n%x\n%x", b1, b2)
	}
	if shuffled.Nodes[0].Name != "node-3" {
		t.Fatal("Encode sorted the caller's nodes")
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, err := sampleLayouts()[2].Encode()
	if err != nil {
		t.Fatal(err)
	}
	// build assembles an encoding by hand, for inputs Encode cannot make.
	build := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	node := func(name, zone string, weight uint64, state byte) []byte {
		b := wire.AppendString(nil, name)
		b = wire.AppendString(b, zone)
		b = binary.AppendUvarint(b, weight)
		return append(b, state)
	}
	head := func(replicas byte, count uint64) []byte {
		return binary.AppendUvarint([]byte{encodingVersion, 5, replicas}, count)
	}
	if _, err := DecodeLayout(build(head(3, 2), node("a", "", 1, 0), node("b", "z", 2, 1))); err != nil {
		t.Fatalf("hand-built encoding refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"version 0", append([]byte{0}, good[1:]...), "unknown encoding version 0"},
		{"version 2", append([]byte{2}, good[1:]...), "unknown encoding version 2"},
		{"oversized", make([]byte, MaxEncodedSize+1), "more than the limit"},
		{"trailing byte", append(slices.Clone(good), 0), "1 trailing bytes"},
		{"zero replicas", build(head(0, 0)), "replicas must be between 1 and 7"},
		{"eight replicas", build(head(8, 0)), "replicas must be between 1 and 7"},
		{"too many nodes", build(head(3, MaxNodes+1), bytes.Repeat(node("a", "", 1, 0), 10)), "do not fit"},
		{"count beyond data", build(head(3, 3), node("a", "", 1, 0), node("b", "", 1, 0)), "do not fit"},
		{"huge count", build(head(3, 1<<62)), "do not fit"},
		{"zero weight", build(head(3, 1), node("a", "", 0, 0)), "weight of node a must be positive"},
		{"bad state", build(head(3, 1), node("a", "", 1, 3)), "state of node a is unknown"},
		{"bad name", build(head(3, 1), node("a b", "", 1, 0)), "letters, digits"},
		{"empty name", build(head(3, 1), node("", "z", 1, 0)), "must be 1 to 64 bytes"},
		{"bad zone", build(head(3, 1), node("a", "z\x00", 1, 0)), "printable ASCII"},
		{"long zone", build(head(3, 1), node("a", strings.Repeat("z", 65), 1, 0)), "at most 64 bytes"},
		{"unsorted", build(head(3, 2), node("b", "", 1, 0), node("a", "", 1, 0)), `node "a" is out of order`},
		{"duplicate", build(head(3, 2), node("a", "", 1, 0), node("a", "", 1, 0)), `node "a" is out of order`},
		{"overlong varint", build([]byte{encodingVersion, 0x85, 0x00, 3, 0}), "overlong varint"},
		{"varint overflow", build([]byte{encodingVersion}, bytes.Repeat([]byte{0xff}, 10), []byte{1, 3, 0}), "overflows"},
		{"string past end", build(head(3, 1), []byte{9, 'a', 'b', 0, 0, 0}), "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := DecodeLayout(tc.b)
			if !errors.Is(err, ErrBadLayout) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeLayout = %+v, %v; want ErrBadLayout containing %q", l, err, tc.want)
			}
		})
	}
	// Every strict prefix of a valid encoding is refused.
	for n := range len(good) {
		if _, err := DecodeLayout(good[:n]); !errors.Is(err, ErrBadLayout) {
			t.Fatalf("prefix of %d of %d bytes: err = %v", n, len(good), err)
		}
	}
}
