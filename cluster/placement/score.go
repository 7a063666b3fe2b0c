package placement

import (
	"encoding/binary"
	"math"
)

// The functions in this file define where every chunk lives. Changing
// any of them, even by one bit of one result, moves chunks: it needs a
// new layout encoding version and a migration. TestGolden pins them.

// mix64 is SplitMix64's finalizer (Stafford's Mix13): a bijection of
// uint64 with full avalanche.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// nameHash is a node name's 64-bit hash: FNV-1a, then mix64.
func nameHash(name string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	return mix64(h)
}

// idKey folds the 32 bytes of a chunk ID into 64 bits. IDs are BLAKE3
// hashes, so any 8 bytes would do; folding all 32 keeps made-up IDs
// (counters in tests and tools) well spread too.
func idKey(id *[32]byte) uint64 {
	h := uint64(0x243f6a8885a308d3)
	for i := 0; i < 32; i += 8 {
		h = mix64(h ^ binary.LittleEndian.Uint64(id[i:]))
	}
	return h
}

// unit maps the hash of a chunk and a node to u in (0, 1): the odd
// multiples of 2^-53, so u is exact and never 0 or 1.
func unit(x uint64) float64 {
	return float64(x>>11|1) * 0x1p-53
}

// score is the node's weighted rendezvous score for one chunk: ln(u)/w,
// which ranks nodes as the usual -w/ln(u) does (higher is better). inv
// is 1/w (weightInv).
func score(x uint64, inv float64) float64 {
	return ln(unit(x)) * inv
}

// scoreBoundSlack makes (u-1)*(inv*scoreBoundSlack) an upper bound of
// score, since ln(u) <= u-1, with a margin of 2^-40 relative for the
// rounding of ln and of the products (each well under 2^-50). Skipping
// the nodes whose bound is below a threshold never changes a result.
const scoreBoundSlack = 1 - 0x1p-40

// weightInv returns 1/w. Weights above 2^53 are first rounded down to 53
// significant bits, by truncation, so the result never depends on how a
// platform rounds the uint64 conversion.
func weightInv(w uint64) float64 {
	shift := 0
	for w>>shift >= 1<<53 {
		shift++
	}
	f := float64(w>>shift) * math.Ldexp(1, shift)
	return 1 / f
}

// ln returns the natural logarithm of x, for normal positive x.
//
// math.Log cannot be used: its result may differ in the last bit between
// platforms (amd64 has its own assembly; elsewhere the compiler may fuse
// x*y+z into one FMA instruction, which Go allows), and every node must
// rank nodes identically. This is the FreeBSD/fdlibm algorithm of
// math.Log's pure Go version, with an explicit float64 conversion around
// every product, which the Go spec says prevents fusion, so it gives the
// same bits everywhere. It is within 1 ulp of the true value.
func ln(x float64) float64 {
	const (
		ln2Hi = 6.93147180369123816490e-01 // 3fe62e42 fee00000
		ln2Lo = 1.90821492927058770002e-10 // 3dea39ef 35793c76
		l1    = 6.666666666666735130e-01   // 3FE55555 55555593
		l2    = 3.999999999940941908e-01   // 3FD99999 9997FA04
		l3    = 2.857142874366239149e-01   // 3FD24924 94229359
		l4    = 2.222219843214978396e-01   // 3FCC71C5 1D8E78AF
		l5    = 1.818357216161805012e-01   // 3FC74664 96CB03DE
		l6    = 1.531383769920937332e-01   // 3FC39A09 D078C69F
		l7    = 1.479819860511658591e-01   // 3FC2F112 DF3E5244
	)
	// x = f1 * 2^ki with f1 in [1/2, 1); x is normal.
	b := math.Float64bits(x)
	ki := int(b>>52&0x7ff) - 1022
	f1 := math.Float64frombits(b&^(0x7ff<<52) | 1022<<52)
	if f1 < math.Sqrt2/2 {
		f1 *= 2
		ki--
	}
	f := f1 - 1
	k := float64(ki)

	s := f / (2 + f)
	s2 := float64(s * s)
	s4 := float64(s2 * s2)
	t1 := float64(s2 * float64(l1+float64(s4*float64(l3+float64(s4*float64(l5+float64(s4*l7)))))))
	t2 := float64(s4 * float64(l2+float64(s4*float64(l4+float64(s4*l6)))))
	r := t1 + t2
	hfsq := float64(0.5 * float64(f*f))
	return float64(k*ln2Hi) - ((hfsq - (float64(s*(hfsq+r)) + float64(k*ln2Lo))) - f)
}
