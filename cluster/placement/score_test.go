package placement

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// lnInputs returns u values as unit makes them: random ones, and the
// extremes and neighbourhoods of 1/2, sqrt(2)/2 and 1.
func lnInputs() []float64 {
	rng := rand.New(rand.NewPCG(19, 20))
	var us []float64
	for range 200000 {
		us = append(us, unit(rng.Uint64()))
	}
	for _, x := range []uint64{0, 1, 2, 1 << 63, ^uint64(0), ^uint64(0) - 1<<11} {
		us = append(us, unit(x))
	}
	for _, c := range []float64{0.5, math.Sqrt2 / 2, 1} {
		// For c = 1, x wraps to 0: the largest u and the smallest.
		x := uint64(c*0x1p53) << 11
		for i := range uint64(2000) {
			us = append(us, unit(x-i<<11), unit(x+i<<11))
		}
	}
	var out []float64
	for _, u := range us {
		if u > 0 && u < 1 {
			out = append(out, u)
		}
	}
	return out
}

func ulps(a, b float64) int64 {
	d := int64(math.Float64bits(a)) - int64(math.Float64bits(b))
	if d < 0 {
		d = -d
	}
	return d
}

func TestLnAccuracy(t *testing.T) {
	for _, u := range lnInputs() {
		if got, want := ln(u), math.Log(u); ulps(got, want) > 1 {
			t.Fatalf("ln(%v) = %v, math.Log %v: %d ulps apart", u, got, want, ulps(got, want))
		}
	}
	if got := ln(0.5); got != -math.Ln2 {
		t.Fatalf("ln(1/2) = %v", got)
	}
}

// The bound that lets place skip a node must never be below its score.
func TestScoreBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	invs := []float64{1, weightInv(1 << 40), weightInv(3), weightInv(^uint64(0))}
	for _, u := range lnInputs() {
		inv := invs[rng.IntN(len(invs))]
		if s, b := ln(u)*inv, (u-1)*(inv*scoreBoundSlack); b < s {
			t.Fatalf("u=%v inv=%v: bound %v < score %v", u, inv, b, s)
		}
	}
}

func TestWeightInv(t *testing.T) {
	for _, tc := range []struct {
		w    uint64
		want float64
	}{
		{1, 1},
		{4, 0.25},
		{1<<53 - 1, 1 / float64(1<<53-1)},
		{1 << 53, 0x1p-53},
		{1<<53 + 1, 0x1p-53},                // rounded down
		{1<<54 + 3, 0x1p-54},                // rounded down
		{^uint64(0), 1 / (0x1p64 - 0x1p11)}, // 53 ones
	} {
		if got := weightInv(tc.w); got != tc.want {
			t.Errorf("weightInv(%d) = %v, want %v", tc.w, got, tc.want)
		}
	}
}

// TestGolden pins the placement function: the hashes, the logarithm and
// the rule. If it fails, chunks would move on upgrade; that needs a new
// encoding version, not -update. Run on every platform dfs ships for: it
// also catches a platform whose floating point differs.
func TestGolden(t *testing.T) {
	// A checksum of ln over many inputs catches a one-bit difference that
	// the placements below might not show.
	h := uint64(14695981039346656037)
	for _, u := range lnInputs() {
		h = mix64(h ^ math.Float64bits(ln(u)))
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "ln checksum %016x\n", h)

	l := &Layout{Version: 1, Replicas: 3}
	for i := range 12 {
		n := Node{Name: fmt.Sprintf("node-%d", i), Zone: []string{"", "rack1", "rack2"}[i%3], Weight: uint64(1+i%4) << 40}
		if i == 5 {
			n.State = Draining
		}
		l.Nodes = append(l.Nodes, n)
	}
	p := mustCompile(t, l)
	for i := range 40 {
		var id [32]byte
		id[0], id[31] = byte(i), byte(i*7)
		fmt.Fprintf(&buf, "%02x..%02x %s | %s\n", id[0], id[31], strings.Join(p.Place(id), " "), strings.Join(p.Order(id)[3:], " "))
	}
	path := filepath.Join("testdata", "golden.txt")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		got := bufio.NewScanner(&buf)
		exp := bufio.NewScanner(bytes.NewReader(want))
		for line := 1; ; line++ {
			g, e := got.Scan(), exp.Scan()
			if !g && !e {
				break
			}
			if got.Text() != exp.Text() {
				t.Fatalf("placement changed at line %d:\n got %s\nwant %s", line, got.Text(), exp.Text())
			}
		}
		t.Fatal("placement changed")
	}
}
