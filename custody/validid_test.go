package custody

import (
	"strings"
	"testing"
)

// TestValidIDMatchesPattern holds validID and validPartyName to the
// patterns they stand for: every byte at the start, inside and at the end,
// and lengths around the limits.
func TestValidIDMatchesPattern(t *testing.T) {
	var inputs []string
	for c := range 256 {
		b := string([]byte{byte(c)})
		inputs = append(inputs, b, "a"+b, b+"a", "a"+b+"a", "A"+b, "0"+b+"\n")
	}
	for _, n := range []int{0, 1, 63, 64, 65, 127, 128, 129} {
		inputs = append(inputs, strings.Repeat("a", n), strings.Repeat("A", n), "x"+strings.Repeat(".", n), strings.Repeat("é", n))
	}
	inputs = append(inputs, "HX-7", "case:2026/disk.img", "-a", ".a", "a\n", "\na", "ünicode", "a b")
	for _, s := range inputs {
		if got, want := validID(s), exhibitIDPattern.MatchString(s); got != want {
			t.Errorf("validID(%q) = %v, want %v", s, got, want)
		}
		if got, want := validPartyName(s), partyNamePattern.MatchString(s); got != want {
			t.Errorf("validPartyName(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzValidID(f *testing.F) {
	f.Add("HX-7")
	f.Add("cert-team")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validID(s), exhibitIDPattern.MatchString(s); got != want {
			t.Errorf("validID(%q) = %v, want %v", s, got, want)
		}
		if got, want := validPartyName(s), partyNamePattern.MatchString(s); got != want {
			t.Errorf("validPartyName(%q) = %v, want %v", s, got, want)
		}
	})
}
