package placement

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The reference implementation: straightforward and slow. It shares only
// the hash (nameHash, idKey, mix64, unit), which defines u; it scores
// with math.Log in the textbook form -w/ln(u) and picks greedily, one
// node at a time: the node whose zone has the fewest picks so far, then
// the highest score, then the smallest name.

type naiveNode struct {
	Node
	score float64
}

func naiveScores(l *Layout, id [32]byte) []naiveNode {
	k := idKey(&id)
	out := make([]naiveNode, len(l.Nodes))
	for i, n := range l.Nodes {
		u := unit(mix64(k ^ nameHash(n.Name)))
		out[i] = naiveNode{Node: n, score: -float64(n.Weight) / math.Log(u)}
	}
	return out
}

// naiveGreedy picks up to limit of nodes, counting picks per zone from
// counts (which it updates).
func naiveGreedy(nodes []naiveNode, counts map[string]int, limit int) []string {
	used := make([]bool, len(nodes))
	var out []string
	for len(out) < limit {
		best := -1
		for i, n := range nodes {
			if used[i] {
				continue
			}
			if best < 0 {
				best = i
				continue
			}
			b := nodes[best]
			cn, cb := counts[n.Zone], counts[b.Zone]
			if cn < cb || cn == cb && (n.score > b.score || n.score == b.score && n.Name < b.Name) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		used[best] = true
		counts[nodes[best].Zone]++
		out = append(out, nodes[best].Name)
	}
	return out
}

func naivePlace(l *Layout, id [32]byte, avoid func(string) bool) []string {
	var eligible []naiveNode
	for _, n := range naiveScores(l, id) {
		if n.State == Active && (avoid == nil || !avoid(n.Name)) {
			eligible = append(eligible, n)
		}
	}
	return naiveGreedy(eligible, map[string]int{}, l.Replicas)
}

func naiveOrder(l *Layout, id [32]byte) []string {
	placed := naivePlace(l, id, nil)
	counts := map[string]int{}
	var rest []naiveNode
	for _, n := range naiveScores(l, id) {
		if slices.Contains(placed, n.Name) {
			counts[n.Zone]++
		} else {
			rest = append(rest, n)
		}
	}
	return append(placed, naiveGreedy(rest, counts, len(rest))...)
}

// randomLayout returns a valid layout of up to maxNodes nodes, in random
// order, with a few zones (sometimes the empty one), weights that are
// sometimes equal and sometimes wildly different, and some draining nodes.
func randomLayout(rng *rand.Rand, maxNodes int) *Layout {
	l := &Layout{Version: rng.Uint64N(100), Replicas: 1 + rng.IntN(MaxReplicas)}
	zones := []string{"", "a", "b", "c", "d", "e"}[rng.IntN(2):][:1+rng.IntN(5)]
	equal := rng.IntN(3) == 0
	n := rng.IntN(maxNodes + 1)
	for i := range n {
		nd := Node{Name: fmt.Sprintf("n%d-%x", i, rng.Uint32()), Zone: zones[rng.IntN(len(zones))], Weight: 1 << 40}
		if !equal {
			switch rng.IntN(10) {
			case 0:
				nd.Weight = 1 + rng.Uint64N(10)
			case 1:
				nd.Weight = math.MaxUint64 - rng.Uint64N(1<<20)
			default:
				nd.Weight = 1<<30 + rng.Uint64N(1<<40)
			}
		}
		if rng.IntN(5) == 0 {
			nd.State = Draining
		}
		l.Nodes = append(l.Nodes, nd)
	}
	return l
}

func randomID(rng *rand.Rand) [32]byte {
	var id [32]byte
	for i := range id {
		id[i] = byte(rng.Uint32())
	}
	return id
}

func mustCompile(t testing.TB, l *Layout) *Placer {
	t.Helper()
	p, err := l.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkPlacement checks what must hold of every placement: the effective
// number of distinct, existing, eligible nodes, spread over zones as
// evenly as the eligible nodes allow.
func checkPlacement(t testing.TB, l *Layout, got []string, avoid func(string) bool) {
	t.Helper()
	byName := map[string]Node{}
	eligible := map[string]int{} // per zone
	for _, n := range l.Nodes {
		byName[n.Name] = n
		if n.State == Active && (avoid == nil || !avoid(n.Name)) {
			eligible[n.Zone]++
		}
	}
	total := 0
	for _, c := range eligible {
		total += c
	}
	if want := min(l.Replicas, total); len(got) != want {
		t.Fatalf("placed on %d nodes %q, want %d", len(got), got, want)
	}
	picked := map[string]int{}
	seen := map[string]bool{}
	for _, name := range got {
		n, ok := byName[name]
		switch {
		case !ok:
			t.Fatalf("placed on unknown node %q", name)
		case seen[name]:
			t.Fatalf("placed twice on %q: %q", name, got)
		case n.State != Active:
			t.Fatalf("placed on %s node %q", n.State, name)
		case avoid != nil && avoid(name):
			t.Fatalf("placed on avoided node %q", name)
		}
		seen[name] = true
		picked[n.Zone]++
	}
	for z, cz := range picked {
		for y := range eligible {
			// A zone may hold two more than another only if the other
			// has no eligible node left.
			if cz >= picked[y]+2 && picked[y] < eligible[y] {
				t.Fatalf("zone %q holds %d replicas and zone %q only %d of its %d nodes: %q", z, cz, y, picked[y], eligible[y], got)
			}
		}
	}
}

// short scales a test's iteration count down under -short.
func short(n int) int {
	if testing.Short() {
		return max(1, n/5)
	}
	return n
}

func TestNaiveAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range short(400) {
		l := randomLayout(rng, 40)
		p := mustCompile(t, l)
		for range 100 {
			id := randomID(rng)
			got, want := p.Place(id), naivePlace(l, id, nil)
			if !slices.Equal(got, want) {
				t.Fatalf("layout %+v id %x: Place = %q, naive %q", l, id, got, want)
			}
			checkPlacement(t, l, got, nil)
			if got, want := p.Order(id), naiveOrder(l, id); !slices.Equal(got, want) {
				t.Fatalf("layout %+v id %x: Order = %q, naive %q", l, id, got, want)
			}
			down := map[string]bool{}
			for _, n := range l.Nodes {
				if rng.IntN(4) == 0 {
					down[n.Name] = true
				}
			}
			avoid := func(name string) bool { return down[name] }
			got, want = p.PlaceAvoiding(id, avoid), naivePlace(l, id, avoid)
			if !slices.Equal(got, want) {
				t.Fatalf("layout %+v id %x avoiding %v: PlaceAvoiding = %q, naive %q", l, id, down, got, want)
			}
			checkPlacement(t, l, got, avoid)
		}
	}
}

// TestNaiveAgreesLarge covers zones large enough for the score bound in
// place to skip most nodes.
func TestNaiveAgreesLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range short(20) {
		l := randomLayout(rng, 600)
		p := mustCompile(t, l)
		for range 200 {
			id := randomID(rng)
			if got, want := p.Place(id), naivePlace(l, id, nil); !slices.Equal(got, want) {
				t.Fatalf("%d nodes, R=%d, id %x: Place = %q, naive %q", len(l.Nodes), l.Replicas, id, got, want)
			}
		}
	}
}
