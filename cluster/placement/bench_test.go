package placement

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func benchLayout(n, zones int) *Layout {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(zones)))
	l := &Layout{Replicas: 3}
	for i := range n {
		nd := Node{Name: fmt.Sprintf("node-%04d", i), Weight: 1<<40 + rng.Uint64N(1<<40)}
		if zones > 0 {
			nd.Zone = fmt.Sprintf("zone-%d", i%zones)
		}
		l.Nodes = append(l.Nodes, nd)
	}
	return l
}

func benchIDs() [][32]byte {
	rng := rand.New(rand.NewPCG(23, 24))
	ids := make([][32]byte, 1024)
	for i := range ids {
		ids[i] = randomID(rng)
	}
	return ids
}

func BenchmarkPlace(b *testing.B) {
	ids := benchIDs()
	for _, zones := range []int{0, 3} {
		for _, n := range []int{5, 50, 500} {
			p := mustCompile(b, benchLayout(n, zones))
			b.Run(fmt.Sprintf("nodes=%d/zones=%d", n, zones), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					p.Place(ids[i%len(ids)])
					i++
				}
			})
		}
	}
}

func BenchmarkAppendPlace(b *testing.B) {
	ids := benchIDs()
	for _, n := range []int{5, 50, 500} {
		p := mustCompile(b, benchLayout(n, 3))
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]string, 0, MaxReplicas)
			i := 0
			for b.Loop() {
				dst = p.AppendPlace(dst[:0], ids[i%len(ids)])
				i++
			}
		})
	}
}

func BenchmarkOrder(b *testing.B) {
	ids := benchIDs()
	for _, n := range []int{5, 50, 500} {
		p := mustCompile(b, benchLayout(n, 3))
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.Order(ids[i%len(ids)])
				i++
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	l := benchLayout(500, 3)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Compile(); err != nil {
			b.Fatal(err)
		}
	}
}
