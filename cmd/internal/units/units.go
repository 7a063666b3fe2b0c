// Package units parses the byte sizes dfsd's and dfsctl's flags take.
package units

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseBytes parses a size: bytes, or a number and a binary unit (KiB,
// MiB, GiB, TiB, or K, M, G, T; B for bytes). The error is a sentence.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (use bytes or a unit: 64KiB, 4MiB, 1GiB)", s)
	}
	return n * mult, nil
}
