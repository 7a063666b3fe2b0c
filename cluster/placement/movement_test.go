package placement

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The statistical tests use fixed seeds, so they are deterministic; their
// tolerances are 5 standard deviations of the binomial count that an
// ideal random hash would give, so a correct placement passes them for
// essentially any seed (a 5σ excursion has probability below 1e-6), while
// a biased hash or a wrong rule misses by far more.

const movementIDs = 20000 // fewer under -short: the tolerances follow

// diff returns the names in a but not in b.
func diff(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func equalNodes(n int, zones int) *Layout {
	l := &Layout{Replicas: 3}
	for i := range n {
		nd := Node{Name: fmt.Sprintf("node%02d", i), Weight: 1 << 40}
		if zones > 0 {
			nd.Zone = fmt.Sprintf("z%d", i%zones)
		}
		l.Nodes = append(l.Nodes, nd)
	}
	return l
}

// Adding one node to N of equal weight moves 1/(N+1) of the replicas,
// all of them to the new node: with R=3 the new node enters a chunk's
// set with probability 3/(N+1), taking one of its 3 slots.
func TestAddNodeMovesItsShareOnlyToIt(t *testing.T) {
	for _, zones := range []int{0, 3} {
		for n := 3; n <= 20; n++ {
			t.Run(fmt.Sprintf("zones=%d/N=%d", zones, n), func(t *testing.T) {
				before := equalNodes(n, zones)
				after, err := before.With(Node{Name: "new", Zone: "z0", Weight: 1 << 40})
				if zones == 0 {
					after, err = before.With(Node{Name: "new", Weight: 1 << 40})
				}
				if err != nil {
					t.Fatal(err)
				}
				pb, pa := mustCompile(t, before), mustCompile(t, after)
				rng := rand.New(rand.NewPCG(uint64(n), 1))
				ids := short(movementIDs)
				moved, slots := 0, 0
				for range ids {
					id := randomID(rng)
					old, cur := pb.Place(id), pa.Place(id)
					gone, came := diff(old, cur), diff(cur, old)
					if len(gone) != len(came) || len(came) > 1 || len(came) == 1 && came[0] != "new" {
						t.Fatalf("id %x: %q became %q: something other than the new node gained a replica", id, old, cur)
					}
					moved += len(came)
					slots += len(old)
				}
				frac := float64(moved) / float64(slots)
				// A chunk changes when the new node enters its set: with
				// no zones, 3 chances in N+1, and then one slot of 3
				// moves. With 3 zones each holds one replica of every
				// chunk, and the new node takes 1/(k+1) of the replicas
				// of zone z0, which had k = ceil(N/3) nodes.
				p := 3 / float64(n+1)
				if zones > 0 {
					p = 1 / float64((n+2)/3+1)
				}
				want := p / 3
				sigma := math.Sqrt(p*(1-p)/float64(ids)) / 3
				t.Logf("moved %.4f of replicas, expected %.4f (σ %.4f)", frac, want, sigma)
				if math.Abs(frac-want) > 5*sigma {
					t.Fatalf("moved %.4f of replicas, want %.4f ± %.4f", frac, want, 5*sigma)
				}
			})
		}
	}
}

// Whatever the layout, removing, draining or lowering the weight of a
// node moves only the replicas it held, and adding a node or raising its
// weight moves replicas only to it, at most one per chunk.
func TestChangesMoveOnlyTheChangedNode(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range short(300) {
		l := randomLayout(rng, 30)
		if len(l.Nodes) == 0 {
			continue
		}
		x := l.Nodes[rng.IntN(len(l.Nodes))]
		type change struct {
			name   string
			layout func() (*Layout, error)
			gains  bool // x may gain replicas (else it may only lose them)
		}
		heavier, lighter := x, x
		heavier.Weight = max(x.Weight, x.Weight*3) // saturates instead of wrapping
		lighter.Weight = max(1, x.Weight/3)
		changes := []change{
			{"remove", func() (*Layout, error) { return l.Without(x.Name) }, false},
			{"drain", func() (*Layout, error) { return l.SetState(x.Name, Draining) }, false},
			{"lighten", func() (*Layout, error) { return l.With(lighter) }, false},
			{"activate", func() (*Layout, error) { return l.SetState(x.Name, Active) }, true},
			{"heavier", func() (*Layout, error) { return l.With(heavier) }, true},
		}
		for _, c := range changes {
			after, err := c.layout()
			if err != nil {
				t.Fatal(err)
			}
			pb, pa := mustCompile(t, l), mustCompile(t, after)
			for range 200 {
				id := randomID(rng)
				old, cur := pb.Place(id), pa.Place(id)
				gone, came := diff(old, cur), diff(cur, old)
				from, to := gone, came // the replicas that moved away from x, or to x
				if c.gains {
					from, to = came, gone
				}
				ok := len(from) <= 1 && len(to) <= 1 && (len(from) == 0 || from[0] == x.Name)
				if ok && len(from) == 0 {
					ok = len(to) == 0
				}
				// Removing or draining x can leave fewer active nodes than
				// R: then x's replica is dropped, not moved.
				if ok && !c.gains && len(from) == 1 && len(to) == 0 {
					ok = len(cur) < len(old)
				}
				if !ok {
					t.Fatalf("layout %d, %s %+v, id %x: %q became %q", i, c.name, x, id, old, cur)
				}
			}
		}
	}
}

// With R=1 each node holds its weight's share of the chunks.
func TestWeightShare(t *testing.T) {
	const ids = 100000
	weights := []uint64{1, 2, 2, 4, 8, 1}
	l := &Layout{Replicas: 1}
	total := 0.0
	for i, w := range weights {
		l.Nodes = append(l.Nodes, Node{Name: fmt.Sprintf("n%d", i), Weight: w << 30})
		total += float64(w)
	}
	p := mustCompile(t, l)
	counts := map[string]int{}
	rng := rand.New(rand.NewPCG(7, 8))
	for range ids {
		counts[p.Place(randomID(rng))[0]]++
	}
	for i, w := range weights {
		name := fmt.Sprintf("n%d", i)
		want := float64(w) / total
		got := float64(counts[name]) / ids
		sigma := math.Sqrt(want * (1 - want) / ids)
		t.Logf("%s weight %d: %.4f of chunks, expected %.4f (σ %.4f)", name, w, got, want, sigma)
		if math.Abs(got-want) > 5*sigma {
			t.Errorf("%s weight %d holds %.4f of chunks, want %.4f ± %.4f", name, w, got, want, 5*sigma)
		}
	}
	if r := float64(counts["n2"]) / float64(counts["n1"]); r < 0.9 || r > 1.1 {
		t.Errorf("equal weights got %d and %d chunks", counts["n1"], counts["n2"])
	}
	if r := float64(counts["n4"]) / float64(counts["n3"]); r < 1.8 || r > 2.2 {
		t.Errorf("weight 8 got %.2f times the chunks of weight 4, want about 2", r)
	}
}

// inclusion returns, for each node, the probability that weighted
// sampling without replacement of r nodes picks it, which is what the
// logarithmic method does (the order of exponential clocks).
func inclusion(weights []float64, r int) []float64 {
	incl := make([]float64, len(weights))
	var rec func(taken []bool, p float64, depth int)
	rec = func(taken []bool, p float64, depth int) {
		if depth == r {
			return
		}
		rest := 0.0
		for i, w := range weights {
			if !taken[i] {
				rest += w
			}
		}
		for i, w := range weights {
			if taken[i] {
				continue
			}
			q := p * w / rest
			incl[i] += q
			taken[i] = true
			rec(taken, q, depth+1)
			taken[i] = false
		}
	}
	rec(make([]bool, len(weights)), 1, 0)
	return incl
}

// With R>1 the shares follow sampling without replacement: a node of
// twice the weight gets about twice the chunks (1.89 times with 19 others
// and R=3), and every node gets exactly its inclusion probability.
func TestWeightShareReplicas(t *testing.T) {
	const ids = 50000
	for _, tc := range []struct {
		name    string
		weights []float64
	}{
		{"one double among 19", append([]float64{2}, slices.Repeat([]float64{1}, 19)...)},
		{"mixed", []float64{1, 2, 2, 3, 5, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &Layout{Replicas: 3}
			for i, w := range tc.weights {
				l.Nodes = append(l.Nodes, Node{Name: fmt.Sprintf("n%02d", i), Weight: uint64(w * (1 << 30))})
			}
			p := mustCompile(t, l)
			counts := make([]int, len(tc.weights))
			rng := rand.New(rand.NewPCG(9, 10))
			for range ids {
				for _, name := range p.Place(randomID(rng)) {
					var i int
					fmt.Sscanf(name, "n%d", &i)
					counts[i]++
				}
			}
			incl := inclusion(tc.weights, 3)
			for i, want := range incl {
				got := float64(counts[i]) / ids
				sigma := math.Sqrt(want * (1 - want) / ids)
				if math.Abs(got-want) > 5*sigma {
					t.Errorf("node %d weight %g holds %.4f of chunks, want %.4f ± %.4f", i, tc.weights[i], got, want, 5*sigma)
				}
			}
			others := 0
			for _, c := range counts[1:] {
				others += c
			}
			ratio := float64(counts[0]) / (float64(others) / float64(len(counts)-1))
			t.Logf("node 0 (weight %g) holds %.3f of chunks: %.3f times the mean of the others; theory %.3f", tc.weights[0], float64(counts[0])/ids, ratio, incl[0])
		})
	}
}

// A draining node gets no placements but stays in Order. Without zones it
// comes right after the placement for the chunks it held, so reads find
// it before repair has moved them.
func TestDraining(t *testing.T) {
	l := equalNodes(10, 0)
	pb := mustCompile(t, l)
	drained, err := l.SetState("node04", Draining)
	if err != nil {
		t.Fatal(err)
	}
	p := mustCompile(t, drained)
	rng := rand.New(rand.NewPCG(11, 12))
	held := 0
	for range 5000 {
		id := randomID(rng)
		got := p.Place(id)
		if slices.Contains(got, "node04") {
			t.Fatalf("draining node placed: %q", got)
		}
		order := p.Order(id)
		if len(order) != 10 || !slices.Contains(order, "node04") {
			t.Fatalf("Order %q lacks the draining node", order)
		}
		if slices.Contains(pb.Place(id), "node04") {
			held++
			if order[3] != "node04" {
				t.Fatalf("node04 held chunk %x, Order is %q", id, order)
			}
		}
	}
	if held == 0 {
		t.Fatal("node04 held none of the chunks")
	}
}

// TestRemoved: a removed node is in no placement and no Order: the
// placer is the one of the layout without it, yet Node and Layout still
// report it.
func TestRemoved(t *testing.T) {
	l := equalNodes(10, 0)
	removed, err := l.SetState("node04", Removed)
	if err != nil {
		t.Fatal(err)
	}
	without, err := l.Without("node04")
	if err != nil {
		t.Fatal(err)
	}
	p, pw := mustCompile(t, removed), mustCompile(t, without)
	rng := rand.New(rand.NewPCG(13, 14))
	for range 2000 {
		id := randomID(rng)
		if got, want := p.Order(id), pw.Order(id); !slices.Equal(got, want) {
			t.Fatalf("Order with node04 removed = %q, without it = %q", got, want)
		}
		if got, want := p.Place(id), pw.Place(id); !slices.Equal(got, want) {
			t.Fatalf("Place with node04 removed = %q, without it = %q", got, want)
		}
	}
	if n, ok := p.Node("node04"); !ok || n.State != Removed {
		t.Fatalf("Node(node04) = %+v, %v; want it, removed", n, ok)
	}
	if got := p.Layout(); len(got.Nodes) != 10 || got.Nodes[4].Name != "node04" || got.Nodes[4].State != Removed {
		t.Fatalf("Layout() = %+v", got.Nodes)
	}
	if got := p.EffectiveReplicas(); got != 3 {
		t.Fatalf("EffectiveReplicas = %d", got)
	}
}

func TestZones(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	zoned := func(sizes map[string]int, weight func(i int) uint64) *Layout {
		l := &Layout{Replicas: 3}
		i := 0
		for _, z := range slices.Sorted(func(yield func(string) bool) {
			for z := range sizes {
				if !yield(z) {
					return
				}
			}
		}) {
			for range sizes[z] {
				l.Nodes = append(l.Nodes, Node{Name: fmt.Sprintf("n%d", i), Zone: z, Weight: weight(i)})
				i++
			}
		}
		return l
	}
	equal := func(int) uint64 { return 1 << 40 }
	skewed := func(i int) uint64 { return uint64(1+i*i) << 30 }
	for _, tc := range []struct {
		name   string
		layout *Layout
		want   map[string]int // replicas per zone, for every chunk
	}{
		{"3 zones", zoned(map[string]int{"a": 4, "b": 4, "c": 4}, equal), map[string]int{"a": 1, "b": 1, "c": 1}},
		{"3 zones, skewed weights", zoned(map[string]int{"a": 1, "b": 3, "c": 8}, skewed), map[string]int{"a": 1, "b": 1, "c": 1}},
		{"2 zones of one node", zoned(map[string]int{"a": 1, "b": 1}, equal), map[string]int{"a": 1, "b": 1}},
		{"one node and five", zoned(map[string]int{"a": 1, "b": 5}, skewed), map[string]int{"a": 1, "b": 2}},
		{"empty zone is a zone", zoned(map[string]int{"": 5, "a": 1, "b": 1}, equal), map[string]int{"": 1, "a": 1, "b": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, tc.layout)
			for range 3000 {
				got := p.Place(randomID(rng))
				perZone := map[string]int{}
				for _, name := range got {
					n, _ := p.Node(name)
					perZone[n.Zone]++
				}
				if fmt.Sprint(perZone) != fmt.Sprint(tc.want) {
					t.Fatalf("%q: replicas per zone %v, want %v", got, perZone, tc.want)
				}
			}
		})
	}

	// 2 zones, R=3: both zones used, each holding 2 replicas about half
	// the time.
	p := mustCompile(t, zoned(map[string]int{"a": 4, "b": 4}, equal))
	twoInA := 0
	const ids = 10000
	for range ids {
		perZone := map[string]int{}
		for _, name := range p.Place(randomID(rng)) {
			n, _ := p.Node(name)
			perZone[n.Zone]++
		}
		if perZone["a"] == 0 || perZone["b"] == 0 {
			t.Fatalf("a zone is unused: %v", perZone)
		}
		if perZone["a"] == 2 {
			twoInA++
		}
	}
	if f := float64(twoInA) / ids; math.Abs(f-0.5) > 5*math.Sqrt(0.25/ids) {
		t.Fatalf("zone a held 2 replicas of %.3f of chunks, want 0.5", f)
	}
}

// The answer depends on the layout, not on the order of its nodes.
func TestDeterminism(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for range 50 {
		l := randomLayout(rng, 30)
		shuffled := *l
		shuffled.Nodes = slices.Clone(l.Nodes)
		rng.Shuffle(len(shuffled.Nodes), func(i, j int) {
			shuffled.Nodes[i], shuffled.Nodes[j] = shuffled.Nodes[j], shuffled.Nodes[i]
		})
		p1, p2 := mustCompile(t, l), mustCompile(t, &shuffled)
		for range 50 {
			id := randomID(rng)
			if a, b := p1.Place(id), p2.Place(id); !slices.Equal(a, b) {
				t.Fatalf("Place depends on node order: %q vs %q", a, b)
			}
			if a, b := p1.Order(id), p2.Order(id); !slices.Equal(a, b) {
				t.Fatalf("Order depends on node order: %q vs %q", a, b)
			}
			if a, b := p1.Place(id), p1.Place(id); !slices.Equal(a, b) {
				t.Fatalf("Place changed between calls: %q vs %q", a, b)
			}
		}
	}
}

// PlaceAvoiding keeps the zone rule: a dead node's replacement comes from
// its zone when that zone would otherwise be unused.
func TestPlaceAvoiding(t *testing.T) {
	l := equalNodes(9, 3) // zones z0, z1, z2 of 3 nodes
	p := mustCompile(t, l)
	rng := rand.New(rand.NewPCG(17, 18))
	for range 2000 {
		id := randomID(rng)
		placed := p.Place(id)
		dead := placed[rng.IntN(len(placed))]
		got := p.PlaceAvoiding(id, func(name string) bool { return name == dead })
		if slices.Contains(got, dead) {
			t.Fatalf("placed on the dead node: %q", got)
		}
		deadNode, _ := p.Node(dead)
		if d := diff(got, placed); len(d) != 1 {
			t.Fatalf("%q without %s became %q", placed, dead, got)
		} else if n, _ := p.Node(d[0]); n.Zone != deadNode.Zone {
			t.Fatalf("replacement %s for %s is in zone %q, not %q", d[0], dead, n.Zone, deadNode.Zone)
		}
	}
}
