package ledger

import (
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

// refDecodeHash is decodeHash as it was, by encoding/base64: what
// decodeBase64 accepts as a 32-byte hash.
func refDecodeHash(line []byte) (Hash, bool) {
	var h Hash
	raw, err := decodeBase64(string(line))
	if err != nil || len(raw) != len(h) {
		return h, false
	}
	copy(h[:], raw)
	return h, true
}

// checkDecodeHash fails t unless decodeHash(line) is refDecodeHash(line),
// and leaves h alone when it refuses line.
func checkDecodeHash(t *testing.T, line []byte) {
	t.Helper()
	want, wok := refDecodeHash(line)
	h := Hash{1}
	ok := decodeHash(&h, line)
	if ok != wok || ok && h != want || !ok && h != (Hash{1}) {
		t.Fatalf("decodeHash(%q) = %x, %v; want %x, %v", line, h, ok, want, wok)
	}
}

// TestDecodeHash holds decodeHash to decodeBase64 for the encodings of
// random hashes and of the hashes with all bits set or clear, each with
// every byte set in turn to every value, and for lines one byte short and
// one byte long.
func TestDecodeHash(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	hashes := []Hash{{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	for range 30 {
		var h Hash
		for i := range h {
			h[i] = byte(rng.UintN(256))
		}
		hashes = append(hashes, h)
	}
	for _, h := range hashes {
		line := []byte(base64.StdEncoding.EncodeToString(h[:]))
		checkDecodeHash(t, line)
		checkDecodeHash(t, line[:len(line)-1])
		checkDecodeHash(t, append(line[:len(line):len(line)], '='))
		for i := range line {
			for v := range 256 {
				b := append([]byte(nil), line...)
				b[i] = byte(v)
				checkDecodeHash(t, b)
			}
		}
	}
}

// FuzzDecodeHash holds decodeHash to decodeBase64 on any line.
func FuzzDecodeHash(f *testing.F) {
	f.Add([]byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
	f.Add([]byte("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="))
	f.Add([]byte("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV="))
	f.Add([]byte("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu\nU="))
	f.Add([]byte("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hS\r\nU="))
	f.Fuzz(func(t *testing.T, line []byte) { checkDecodeHash(t, line) })
}
