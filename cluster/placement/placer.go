package placement

import (
	"cmp"
	"slices"
)

// Placer answers placement questions for one layout. Compile makes it;
// it is immutable and safe for concurrent use. Its methods are pure
// functions of the layout and the chunk ID.
type Placer struct {
	version  uint64
	replicas int // Layout.Replicas
	eff      int // EffectiveReplicas
	nodes    []pnode
	removed  []Node // State Removed, sorted by name: in no placement
	zones    []string
	// act holds the active nodes grouped by zone; zone z's are
	// act[actStart[z]:actStart[z+1]], in name order.
	act      []anode
	actStart []int32
}

// pnode is a node of the layout; Placer.nodes is sorted by name, so an
// index into it also orders by name.
type pnode struct {
	Node
	zone int32 // index into Placer.zones
	hash uint64
	inv  float64
}

// anode is the part of an active node that Place reads, kept small and
// contiguous for the scan.
type anode struct {
	hash  uint64
	inv   float64 // 1/weight
	bound float64 // inv*scoreBoundSlack
	idx   int32   // into Placer.nodes
}

// cand is a node ranked for a chunk: rank is the number of nodes of its
// zone ranked before it.
type cand struct {
	score float64
	idx   int32
	rank  int32
}

// beats orders candidates of one zone: higher score first, then name.
func (c cand) beats(d cand) bool {
	return c.score > d.score || c.score == d.score && c.idx < d.idx
}

// before is the preference order: lower rank in its zone first, then
// higher score, then name.
func (c cand) before(d cand) bool {
	if c.rank != d.rank {
		return c.rank < d.rank
	}
	return c.beats(d)
}

// Compile validates l and prepares a Placer for it. It does not keep l.
func (l *Layout) Compile() (*Placer, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	p := &Placer{
		version:  l.Version,
		replicas: l.Replicas,
		eff:      l.EffectiveReplicas(),
	}
	sorted := sortedNodes(l.Nodes)
	// Removed nodes are kept aside: placement and Order never see them.
	sorted = slices.DeleteFunc(sorted, func(n Node) bool {
		if n.State == Removed {
			p.removed = append(p.removed, n)
			return true
		}
		return false
	})
	p.nodes = make([]pnode, len(sorted))
	zones := make([]string, 0, len(sorted))
	for _, n := range sorted {
		zones = append(zones, n.Zone)
	}
	slices.Sort(zones)
	p.zones = slices.Compact(zones)
	for i, n := range sorted {
		z, _ := slices.BinarySearch(p.zones, n.Zone)
		p.nodes[i] = pnode{Node: n, zone: int32(z), hash: nameHash(n.Name), inv: weightInv(n.Weight)}
	}
	p.actStart = make([]int32, len(p.zones)+1)
	for _, n := range p.nodes {
		if n.State == Active {
			p.actStart[n.zone+1]++
		}
	}
	for z := range p.zones {
		p.actStart[z+1] += p.actStart[z]
	}
	p.act = make([]anode, p.actStart[len(p.zones)])
	next := slices.Clone(p.actStart[:len(p.zones)])
	for i, n := range p.nodes {
		if n.State == Active {
			p.act[next[n.zone]] = anode{hash: n.hash, inv: n.inv, bound: n.inv * scoreBoundSlack, idx: int32(i)}
			next[n.zone]++
		}
	}
	return p, nil
}

// Version is the layout's version.
func (p *Placer) Version() uint64 { return p.version }

// Replicas is the layout's R.
func (p *Placer) Replicas() int { return p.replicas }

// EffectiveReplicas is the number of names Place returns: R, or the
// number of active nodes when that is smaller.
func (p *Placer) EffectiveReplicas() int { return p.eff }

// Layout returns a copy of the compiled layout, nodes sorted by name.
func (p *Placer) Layout() *Layout {
	l := &Layout{Version: p.version, Replicas: p.replicas, Nodes: make([]Node, 0, len(p.nodes)+len(p.removed))}
	for _, n := range p.nodes {
		l.Nodes = append(l.Nodes, n.Node)
	}
	l.Nodes = sortedNodes(append(l.Nodes, p.removed...))
	return l
}

// Node returns the named node, removed ones included.
func (p *Placer) Node(name string) (Node, bool) {
	i, ok := slices.BinarySearchFunc(p.nodes, name, func(n pnode, name string) int {
		return cmp.Compare(n.Name, name)
	})
	if ok {
		return p.nodes[i].Node, true
	}
	j, ok := slices.BinarySearchFunc(p.removed, name, func(n Node, name string) int {
		return cmp.Compare(n.Name, name)
	})
	if ok {
		return p.removed[j], true
	}
	return Node{}, false
}

// Place returns the names of the nodes that hold chunk id, in preference
// order: EffectiveReplicas active nodes, in distinct zones while there
// are enough zones (see the package doc).
func (p *Placer) Place(id [32]byte) []string {
	return p.AppendPlace(make([]string, 0, p.eff), id)
}

// AppendPlace appends Place(id) to dst and returns the extended slice. It
// does not allocate when dst has room.
func (p *Placer) AppendPlace(dst []string, id [32]byte) []string {
	var top [MaxReplicas]cand
	n := p.place(idKey(&id), nil, &top)
	for _, c := range top[:n] {
		dst = append(dst, p.nodes[c.idx].Name)
	}
	return dst
}

// PlaceAvoiding returns the placement chunk id would have if the nodes
// for which avoid returns true were not in the layout: Place with, for
// example, the nodes gossip reports dead taken out. A dead node's
// replacement comes from the same zone when the zone rule asks for it,
// which the next node of Order does not always do. avoid is called once
// for each active node, from the caller's goroutine.
func (p *Placer) PlaceAvoiding(id [32]byte, avoid func(name string) bool) []string {
	var top [MaxReplicas]cand
	n := p.place(idKey(&id), avoid, &top)
	out := make([]string, n)
	for i, c := range top[:n] {
		out[i] = p.nodes[c.idx].Name
	}
	return out
}

// place puts the chosen active nodes for the chunk with key k into top,
// in preference order, and returns how many there are. The chosen are
// the first of the active nodes ordered by (rank in zone, score, name),
// where a node's rank is the number of nodes of its zone that beat it.
//
// Only a node among the R best of its zone can be chosen, so place keeps
// the R best of each zone (zt) and merges them into the R best overall
// (top): O(N) time, no allocation. Once zt is full, a node whose score
// bound cannot reach zt's last is skipped without computing a logarithm,
// which is most nodes in a large zone.
func (p *Placer) place(k uint64, avoid func(string) bool, top *[MaxReplicas]cand) int {
	r := p.replicas
	n := 0
	for z := 0; z < len(p.zones); z++ {
		var zt [MaxReplicas]cand
		m := 0
		for _, a := range p.act[p.actStart[z]:p.actStart[z+1]] {
			if avoid != nil && avoid(p.nodes[a.idx].Name) {
				continue
			}
			x := mix64(k ^ a.hash)
			if m == r && (unit(x)-1)*a.bound < zt[r-1].score {
				continue
			}
			c := cand{score: score(x, a.inv), idx: a.idx}
			m = insertByScore(&zt, m, r, c)
		}
		for j := range m {
			c := zt[j]
			c.rank = int32(j)
			if n == r && !c.before(top[r-1]) {
				break // the zone's later candidates rank even lower
			}
			n = insertByRank(top, n, r, c)
		}
	}
	return n
}

// insertByScore puts c into s[:n], kept in beats order and cut to r
// entries, and returns the new length. insertByRank does the same in
// before order. (One generic function taking the order as a func value
// costs an indirect call per comparison.)
func insertByScore(s *[MaxReplicas]cand, n, r int, c cand) int {
	if n == r {
		if !c.beats(s[n-1]) {
			return n
		}
		n--
	}
	i := n
	for ; i > 0 && c.beats(s[i-1]); i-- {
		s[i] = s[i-1]
	}
	s[i] = c
	return n + 1
}

func insertByRank(s *[MaxReplicas]cand, n, r int, c cand) int {
	if n == r {
		if !c.before(s[n-1]) {
			return n
		}
		n--
	}
	i := n
	for ; i > 0 && c.before(s[i-1]); i-- {
		s[i] = s[i-1]
	}
	s[i] = c
	return n + 1
}

// Order returns every node of the layout in preference order for chunk
// id: first Place(id), then the others, draining nodes included,
// continuing the same rule: ranked by how many nodes of their zone come
// before them, then by score. A read falls back along it; a node that
// has just been drained comes right after Place when it held the chunk
// and there are no zones. O(N log N); it allocates.
func (p *Placer) Order(id [32]byte) []string {
	k := idKey(&id)
	var top [MaxReplicas]cand
	n := p.place(k, nil, &top)
	out := make([]string, 0, len(p.nodes))
	counts := make([]int32, len(p.zones))
	for _, c := range top[:n] {
		out = append(out, p.nodes[c.idx].Name)
		counts[p.nodes[c.idx].zone]++
	}
	type ocand struct {
		score           float64
		idx, zone, rank int32
	}
	rest := make([]ocand, 0, len(p.nodes)-n)
	for i, nd := range p.nodes {
		if !placed(top[:n], int32(i)) {
			rest = append(rest, ocand{score: score(mix64(k^nd.hash), nd.inv), idx: int32(i), zone: nd.zone})
		}
	}
	// Walking the rest by score, each zone's nodes come in their order,
	// so a node's rank is the count of its zone so far. Then a stable
	// counting sort by rank keeps the score order within each rank.
	slices.SortFunc(rest, func(a, b ocand) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.idx, b.idx)
	})
	perRank := make([]int32, len(p.nodes)+1)
	for i := range rest {
		r := counts[rest[i].zone]
		rest[i].rank = r
		counts[rest[i].zone]++
		perRank[r+1]++
	}
	for r := 1; r < len(perRank); r++ {
		perRank[r] += perRank[r-1]
	}
	out = out[:len(p.nodes)]
	for _, c := range rest {
		out[n+int(perRank[c.rank])] = p.nodes[c.idx].Name
		perRank[c.rank]++
	}
	return out
}

func placed(top []cand, idx int32) bool {
	for _, c := range top {
		if c.idx == idx {
			return true
		}
	}
	return false
}
