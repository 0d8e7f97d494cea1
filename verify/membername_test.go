package verify

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// refParseName is parseName as it was, by strconv.ParseInt.
func refParseName(name string) (MemberKind, int64, bool) {
	switch name {
	case ManifestName:
		return KindManifest, -1, true
	case CheckpointName:
		return KindCheckpoint, -1, true
	case PolicyName:
		return KindPolicy, -1, true
	case ReportName:
		return KindReport, -1, true
	case VerifyDocName:
		return KindVerifyDoc, -1, true
	}
	dir, file, found := strings.Cut(name, "/")
	if !found {
		return 0, 0, false
	}
	digits, ext, found := strings.Cut(file, ".")
	if !found || len(digits) != 20 || strings.Trim(digits, "0123456789") != "" {
		return 0, 0, false
	}
	var k MemberKind
	switch dir + "/" + ext {
	case "known/checkpoint":
		k = KindKnownCheckpoint
	case "known/consistency":
		k = KindKnownConsistency
	case "entries/leaf":
		k = KindLeaf
	case "entries/tlog-proof":
		k = KindLeafProof
	default:
		return 0, 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return k, n, true
}

// TestParseName holds parseName to refParseName for every name form, at
// the ends of the index range, and for each with every byte set to other
// values, a byte dropped or added.
func TestParseName(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	names := []string{ManifestName, CheckpointName, PolicyName, ReportName, VerifyDocName,
		"entries/09223372036854775807.leaf", "entries/09223372036854775808.leaf", "entries/99999999999999999999.tlog-proof",
		"known/18446744073709551615.checkpoint", "known/18446744073709551616.consistency", "entries/x/0000000000000000000.leaf"}
	for _, ix := range []int64{0, 1, 9, 70_000, 1<<62 - 1, 1<<63 - 1} {
		names = append(names, LeafName(ix), ProofName(ix), KnownCheckpointName(ix), KnownConsistencyName(ix))
	}
	check := func(name string) {
		t.Helper()
		k, ix, ok := parseName(name)
		wk, wix, wok := refParseName(name)
		if k != wk || ix != wix || ok != wok {
			t.Fatalf("parseName(%q) = %v, %d, %v; want %v, %d, %v", name, k, ix, ok, wk, wix, wok)
		}
	}
	for _, name := range names {
		check(name)
		for i := range len(name) {
			check(name[:i] + name[i+1:])
			for _, c := range []byte{0, '/', '.', '0', '9', '0' - 1, '9' + 1, name[i] + 1, byte(rng.UintN(256))} {
				check(name[:i] + string(c) + name[i+1:])
				check(name[:i] + string(c) + name[i:])
			}
		}
	}
}

// FuzzParseName holds parseName to refParseName.
func FuzzParseName(f *testing.F) {
	f.Add(LeafName(70_000))
	f.Add(ProofName(1<<63 - 1))
	f.Add("known/18446744073709551616.consistency")
	f.Fuzz(func(t *testing.T, name string) {
		k, ix, ok := parseName(name)
		wk, wix, wok := refParseName(name)
		if k != wk || ix != wix || ok != wok {
			t.Fatalf("parseName(%q) = %v, %d, %v; want %v, %d, %v", name, k, ix, ok, wk, wix, wok)
		}
	})
}

// BenchmarkParseName parses a leaf's and a proof's name.
func BenchmarkParseName(b *testing.B) {
	names := []string{LeafName(70_000), ProofName(70_000)}
	for b.Loop() {
		for _, n := range names {
			parseName(n)
		}
	}
}
