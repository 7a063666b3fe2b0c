package placement

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := Node{Name: "n1", Weight: 1}
	many := make([]Node, MaxNodes+1)
	for i := range many {
		many[i] = Node{Name: fmt.Sprintf("n%d", i), Weight: 1}
	}
	for _, tc := range []struct {
		name string
		l    Layout
		want string // substring of the error; "" for valid
	}{
		{"empty", Layout{Replicas: 3}, ""},
		{"one node", Layout{Replicas: 3, Nodes: []Node{ok}}, ""},
		{"longest names", Layout{Replicas: 7, Nodes: []Node{{Name: strings.Repeat("a", 64), Zone: strings.Repeat("~", 64), Weight: ^uint64(0), State: Draining}}}, ""},
		{"name charset", Layout{Replicas: 1, Nodes: []Node{{Name: "Az09._-", Weight: 1}}}, ""},
		{"unsorted", Layout{Replicas: 1, Nodes: []Node{{Name: "b", Weight: 1}, {Name: "a", Weight: 1}}}, ""},
		{"max nodes", Layout{Replicas: 1, Nodes: many[:MaxNodes]}, ""},
		{"zero replicas", Layout{Replicas: 0}, "replicas must be between 1 and 7, not 0"},
		{"eight replicas", Layout{Replicas: 8}, "replicas must be between 1 and 7, not 8"},
		{"negative replicas", Layout{Replicas: -1}, "replicas must be between"},
		{"too many nodes", Layout{Replicas: 1, Nodes: many}, "at most 4096 nodes"},
		{"empty name", Layout{Replicas: 1, Nodes: []Node{{Weight: 1}}}, `node name "" must be 1 to 64 bytes`},
		{"long name", Layout{Replicas: 1, Nodes: []Node{{Name: strings.Repeat("a", 65), Weight: 1}}}, "must be 1 to 64 bytes"},
		{"name with space", Layout{Replicas: 1, Nodes: []Node{{Name: "a b", Weight: 1}}}, "letters, digits"},
		{"name with slash", Layout{Replicas: 1, Nodes: []Node{{Name: "a/b", Weight: 1}}}, "letters, digits"},
		{"long zone", Layout{Replicas: 1, Nodes: []Node{{Name: "a", Zone: strings.Repeat("z", 65), Weight: 1}}}, "zone"},
		{"zone control byte", Layout{Replicas: 1, Nodes: []Node{{Name: "a", Zone: "z\n", Weight: 1}}}, "printable ASCII"},
		{"zone utf-8", Layout{Replicas: 1, Nodes: []Node{{Name: "a", Zone: "zoné", Weight: 1}}}, "printable ASCII"},
		{"zero weight", Layout{Replicas: 1, Nodes: []Node{{Name: "a"}}}, "weight of node a must be positive"},
		{"bad state", Layout{Replicas: 1, Nodes: []Node{{Name: "a", Weight: 1, State: 3}}}, "state of node a is unknown (3)"},
		{"duplicate", Layout{Replicas: 1, Nodes: []Node{{Name: "a", Weight: 1}, {Name: "b", Weight: 1}, {Name: "a", Weight: 2}}}, `node "a" appears more than once`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.l.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := tc.l.Compile(); err != nil {
					t.Fatalf("Compile: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.want)
			}
			if _, err := tc.l.Compile(); err == nil {
				t.Fatal("Compile accepted an invalid layout")
			}
			if _, err := tc.l.Encode(); err == nil {
				t.Fatal("Encode accepted an invalid layout")
			}
		})
	}
}

func TestChanges(t *testing.T) {
	base := &Layout{Version: 7, Replicas: 2, Nodes: []Node{
		{Name: "c", Zone: "z1", Weight: 3},
		{Name: "a", Zone: "z1", Weight: 1},
	}}
	orig := *base
	origNodes := slices.Clone(base.Nodes)
	unchanged := func(t *testing.T) {
		t.Helper()
		if base.Version != orig.Version || base.Replicas != orig.Replicas || !slices.Equal(base.Nodes, origNodes) {
			t.Fatalf("receiver modified: %+v", base)
		}
	}
	check := func(t *testing.T, got *Layout, err error, want []Node) {
		t.Helper()
		unchanged(t)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 8 {
			t.Fatalf("version %d, want 8", got.Version)
		}
		if !slices.Equal(got.Nodes, want) {
			t.Fatalf("nodes %+v, want %+v", got.Nodes, want)
		}
	}

	t.Run("With adds in order", func(t *testing.T) {
		got, err := base.With(Node{Name: "b", Zone: "z2", Weight: 2})
		check(t, got, err, []Node{{Name: "a", Zone: "z1", Weight: 1}, {Name: "b", Zone: "z2", Weight: 2}, {Name: "c", Zone: "z1", Weight: 3}})
		if got.Replicas != 2 {
			t.Fatalf("replicas %d", got.Replicas)
		}
	})
	t.Run("With replaces", func(t *testing.T) {
		got, err := base.With(Node{Name: "c", Zone: "z9", Weight: 9, State: Draining})
		check(t, got, err, []Node{{Name: "a", Zone: "z1", Weight: 1}, {Name: "c", Zone: "z9", Weight: 9, State: Draining}})
	})
	t.Run("With refuses an invalid node", func(t *testing.T) {
		if _, err := base.With(Node{Name: "b"}); err == nil || !strings.Contains(err.Error(), "weight") {
			t.Fatalf("err = %v", err)
		}
		unchanged(t)
	})
	t.Run("Without", func(t *testing.T) {
		got, err := base.Without("c")
		check(t, got, err, []Node{{Name: "a", Zone: "z1", Weight: 1}})
	})
	t.Run("Without unknown", func(t *testing.T) {
		if _, err := base.Without("b"); !errors.Is(err, ErrUnknownNode) {
			t.Fatalf("err = %v, want ErrUnknownNode", err)
		}
		unchanged(t)
	})
	t.Run("SetState", func(t *testing.T) {
		got, err := base.SetState("a", Draining)
		check(t, got, err, []Node{{Name: "a", Zone: "z1", Weight: 1, State: Draining}, {Name: "c", Zone: "z1", Weight: 3}})
		back, err := got.SetState("a", Active)
		if err != nil || back.Version != 9 || back.Nodes[0].State != Active {
			t.Fatalf("SetState back: %+v, %v", back, err)
		}
	})
	t.Run("SetState unknown", func(t *testing.T) {
		if _, err := base.SetState("x", Draining); !errors.Is(err, ErrUnknownNode) {
			t.Fatalf("err = %v, want ErrUnknownNode", err)
		}
		if _, err := base.SetState("a", 5); err == nil {
			t.Fatal("accepted state 5")
		}
		unchanged(t)
	})
	t.Run("WithReplicas", func(t *testing.T) {
		got, err := base.WithReplicas(5)
		check(t, got, err, []Node{{Name: "a", Zone: "z1", Weight: 1}, {Name: "c", Zone: "z1", Weight: 3}})
		if got.Replicas != 5 {
			t.Fatalf("replicas %d", got.Replicas)
		}
		if _, err := base.WithReplicas(8); err == nil {
			t.Fatal("accepted 8 replicas")
		}
		unchanged(t)
	})
	t.Run("version overflow", func(t *testing.T) {
		l := &Layout{Version: ^uint64(0), Replicas: 1}
		if _, err := l.With(Node{Name: "a", Weight: 1}); err == nil {
			t.Fatal("version wrapped around")
		}
	})
	t.Run("from empty", func(t *testing.T) {
		l := &Layout{Replicas: 3}
		for i, name := range []string{"n2", "n0", "n1"} {
			var err error
			if l, err = l.With(Node{Name: name, Weight: 1}); err != nil {
				t.Fatal(err)
			}
			if l.Version != uint64(i+1) {
				t.Fatalf("version %d", l.Version)
			}
		}
		if !slices.IsSortedFunc(l.Nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatalf("nodes not sorted: %+v", l.Nodes)
		}
	})
}

func TestEffectiveReplicas(t *testing.T) {
	l := &Layout{Replicas: 3, Nodes: []Node{
		{Name: "a", Weight: 1}, {Name: "b", Weight: 1, State: Draining},
	}}
	for _, tc := range []struct {
		add  []Node
		want int
	}{
		{nil, 1},
		{[]Node{{Name: "c", Weight: 1}}, 2},
		{[]Node{{Name: "c", Weight: 1}, {Name: "d", Weight: 1, State: Draining}}, 2},
		{[]Node{{Name: "c", Weight: 1}, {Name: "d", Weight: 1}}, 3},
		{[]Node{{Name: "c", Weight: 1}, {Name: "d", Weight: 1}, {Name: "e", Weight: 1}}, 3},
	} {
		ll := &Layout{Replicas: 3, Nodes: append(slices.Clone(l.Nodes), tc.add...)}
		p := mustCompile(t, ll)
		if got := ll.EffectiveReplicas(); got != tc.want {
			t.Errorf("%d nodes: Layout.EffectiveReplicas = %d, want %d", len(ll.Nodes), got, tc.want)
		}
		if got := p.EffectiveReplicas(); got != tc.want {
			t.Errorf("%d nodes: Placer.EffectiveReplicas = %d, want %d", len(ll.Nodes), got, tc.want)
		}
		if got := len(p.Place([32]byte{1})); got != tc.want {
			t.Errorf("%d nodes: placed on %d, want %d", len(ll.Nodes), got, tc.want)
		}
	}
	if got := mustCompile(t, &Layout{Replicas: 2}).Place([32]byte{}); len(got) != 0 {
		t.Fatalf("empty layout placed on %q", got)
	}
}

func TestPlacerAccessors(t *testing.T) {
	l := &Layout{Version: 4, Replicas: 2, Nodes: []Node{
		{Name: "b", Zone: "z", Weight: 2, State: Draining}, {Name: "a", Weight: 1},
	}}
	p := mustCompile(t, l)
	if p.Version() != 4 || p.Replicas() != 2 || p.EffectiveReplicas() != 1 {
		t.Fatalf("Version %d Replicas %d Effective %d", p.Version(), p.Replicas(), p.EffectiveReplicas())
	}
	if n, ok := p.Node("b"); !ok || n != l.Nodes[0] {
		t.Fatalf("Node(b) = %+v, %v", n, ok)
	}
	if _, ok := p.Node("c"); ok {
		t.Fatal("Node(c) found")
	}
	got := p.Layout()
	want := []Node{l.Nodes[1], l.Nodes[0]}
	if got.Version != 4 || got.Replicas != 2 || !slices.Equal(got.Nodes, want) {
		t.Fatalf("Layout() = %+v", got)
	}
	got.Nodes[0].Weight = 99 // a copy: must not reach p
	if n, _ := p.Node("a"); n.Weight != 1 {
		t.Fatal("Layout() shares memory with the Placer")
	}
	l.Nodes[1].Weight = 99 // Compile does not keep l
	if n, _ := p.Node("a"); n.Weight != 1 {
		t.Fatal("Compile kept the caller's nodes")
	}
}

func TestNodeStateString(t *testing.T) {
	for s, want := range map[NodeState]string{Active: "active", Draining: "draining", Removed: "removed", 9: "NodeState(9)"} {
		if got := s.String(); got != want {
			t.Errorf("%d: %q, want %q", uint8(s), got, want)
		}
	}
}
