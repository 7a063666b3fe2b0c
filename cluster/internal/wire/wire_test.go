package wire

import (
	"errors"
	"testing"
)

func TestDecoder(t *testing.T) {
	b := AppendString([]byte{7}, "abc")
	b = append(b, 0xac, 0x02) // 300
	d := Decoder{B: b}
	if d.Byte() != 7 || d.String() != "abc" || d.Uvarint() != 300 || d.Err != nil || len(d.B) != 0 {
		t.Fatalf("decoded wrongly: %v", d.Err)
	}
	for name, in := range map[string][]byte{"short string": {5, 'a'}, "empty": {}, "overlong varint": {0x80, 0x00}} {
		d := Decoder{B: in}
		if name == "overlong varint" {
			d.Uvarint()
		} else {
			_ = d.String()
		}
		if d.Err == nil {
			t.Errorf("%s: no error", name)
		}
		if name != "overlong varint" && !errors.Is(d.Err, ErrShort) {
			t.Errorf("%s: %v; want ErrShort", name, d.Err)
		}
	}
	if !ValidName("n-1.a_b", 64) || ValidName("", 64) || ValidName("a b", 64) || ValidName("abc", 2) {
		t.Error("ValidName")
	}
	if !ValidText("zone 1") || ValidText("a\x1b") || ValidText("é") {
		t.Error("ValidText")
	}
}
