package custody

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

var allHashAlgs = []string{HashSHA256, HashSHA512, HashSHA1, HashMD5}

// digestTestData returns n bytes of a fixed pseudo-random stream.
func digestTestData(n int, seed uint64) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(n)
	rand.NewChaCha8(s).Read(b)
	return b
}

// stdlibDigests computes the digests of data with the standard library, one
// hash at a time, as the reference for Digest.
func stdlibDigests(data []byte) DigestSet {
	s256 := sha256.Sum256(data)
	s512 := sha512.Sum512(data)
	s1 := sha1.Sum(data)
	m5 := md5.Sum(data)
	return DigestSet{
		HashSHA256: hex.EncodeToString(s256[:]),
		HashSHA512: hex.EncodeToString(s512[:]),
		HashSHA1:   hex.EncodeToString(s1[:]),
		HashMD5:    hex.EncodeToString(m5[:]),
	}
}

// digestProgress checks, as Digest calls it, that progress increases.
type digestProgress struct {
	t     *testing.T
	calls int
	last  int64
}

func (p *digestProgress) record(done int64) {
	if done <= p.last {
		p.t.Errorf("progress(%d) after progress(%d): want increasing values", done, p.last)
	}
	p.calls++
	p.last = done
}

func TestDigestMatchesStdlib(t *testing.T) {
	const B = digestBufSize
	for _, size := range []int{0, 1, B - 1, B, B + 1, 3*B + 17, 20 << 20} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			data := digestTestData(size, 1)
			want := stdlibDigests(data)

			p := &digestProgress{t: t}
			var (
				got DigestSet
				n   int64
				err error
			)
			if size == 20<<20 {
				// The large case goes through a real file.
				path := filepath.Join(t.TempDir(), "image.dd")
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
				got, n, err = DigestFile(path, allHashAlgs, p.record)
			} else {
				got, n, err = Digest(bytes.NewReader(data), allHashAlgs, p.record)
			}
			if err != nil {
				t.Fatalf("Digest: %v", err)
			}
			if n != int64(size) {
				t.Errorf("Digest size = %d, want %d", n, size)
			}
			if !maps.Equal(got, want) {
				t.Errorf("Digest = %v, want %v", got, want)
			}
			wantCalls := (size + B - 1) / B
			if p.calls != wantCalls || p.last != int64(size) {
				t.Errorf("progress called %d times, last with %d; want %d times, last with %d", p.calls, p.last, wantCalls, size)
			}
		})
	}
}

func TestDigestAlgorithmSets(t *testing.T) {
	data := digestTestData(threeBufsAnd17, 2)
	ref := stdlibDigests(data)
	for _, tt := range []struct {
		algs []string
		want []string
	}{
		{nil, []string{HashSHA256}},
		{[]string{HashMD5}, []string{HashSHA256, HashMD5}},
		{DefaultHashes, []string{HashSHA256, HashSHA1, HashMD5}},
		{[]string{HashSHA512, HashSHA512, HashSHA256}, []string{HashSHA256, HashSHA512}},
	} {
		got, _, err := Digest(bytes.NewReader(data), tt.algs, nil)
		if err != nil {
			t.Fatalf("Digest(%q): %v", tt.algs, err)
		}
		want := DigestSet{}
		for _, alg := range tt.want {
			want[alg] = ref[alg]
		}
		if !maps.Equal(got, want) {
			t.Errorf("Digest(%q) = %v, want %v", tt.algs, got, want)
		}
	}
	if _, _, err := Digest(bytes.NewReader(data), []string{HashSHA1, "sha3-256"}, nil); err == nil || !strings.Contains(err.Error(), `"sha3-256"`) {
		t.Errorf(`Digest(sha1, sha3-256) error = %v, want one naming "sha3-256"`, err)
	}
}

// threeBufsAnd17 is a size spanning three buffers and a bit.
const threeBufsAnd17 = 3*digestBufSize + 17

// randomChunkReader returns random-sized short reads, some of them empty.
type randomChunkReader struct {
	r   io.Reader
	rnd *rand.Rand
}

func (c *randomChunkReader) Read(p []byte) (int, error) {
	n := c.rnd.IntN(3 * len(p) / 2)
	if n > len(p) {
		n = len(p)
	}
	return c.r.Read(p[:n])
}

func TestDigestShortReads(t *testing.T) {
	data := digestTestData(threeBufsAnd17, 3)
	want := stdlibDigests(data)
	for _, tt := range []struct {
		name string
		r    func(io.Reader) io.Reader
	}{
		{"OneByteReader", iotest.OneByteReader},
		{"HalfReader", iotest.HalfReader},
		{"DataErrReader", iotest.DataErrReader},
		{"random chunks", func(r io.Reader) io.Reader { return &randomChunkReader{r, rand.New(rand.NewPCG(1, 2))} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := Digest(tt.r(bytes.NewReader(data)), allHashAlgs, nil)
			if err != nil {
				t.Fatalf("Digest: %v", err)
			}
			if n != int64(len(data)) || !maps.Equal(got, want) {
				t.Errorf("Digest = %v, %d, want %v, %d", got, n, want, len(data))
			}
		})
	}
}

// failAfterReader returns the bytes of data, then err. With together, the
// last bytes come in the same call as err.
type failAfterReader struct {
	data     []byte
	err      error
	together bool
}

func (f *failAfterReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	if len(f.data) == 0 && f.together {
		return n, f.err
	}
	return n, nil
}

var errBadSector = errors.New("input/output error (simulated bad sector)")

func TestDigestReadError(t *testing.T) {
	const B = digestBufSize
	for _, tt := range []struct {
		name     string
		r        io.Reader
		atOffset int64
	}{
		{"at start", &failAfterReader{nil, errBadSector, false}, 0},
		{"mid buffer", &failAfterReader{digestTestData(B+100, 4), errBadSector, false}, B + 100},
		{"mid buffer, with data", &failAfterReader{digestTestData(2*B+5, 4), errBadSector, true}, 2*B + 5},
		// io.ReadFull would drop this one: the error comes with the bytes
		// that fill the buffer, and the next read returns a clean EOF.
		{"with the bytes that fill a buffer", &failOnceReader{failAfterReader{digestTestData(B, 4), errBadSector, true}}, B},
		{"short reads", iotest.HalfReader(&failAfterReader{digestTestData(3*B, 4), errBadSector, false}), 3 * B},
		{"timeout", iotest.TimeoutReader(bytes.NewReader(digestTestData(3*B, 4))), B},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			got, n, err := Digest(tt.r, allHashAlgs, func(int64) { calls++ })
			var re *ReadError
			if !errors.As(err, &re) {
				t.Fatalf("Digest error = %v, want a *ReadError", err)
			}
			if re.Offset != tt.atOffset {
				t.Errorf("ReadError.Offset = %d, want %d", re.Offset, tt.atOffset)
			}
			if !errors.Is(err, errBadSector) && !errors.Is(err, iotest.ErrTimeout) {
				t.Errorf("Digest error = %v, want it to wrap the reader's error", err)
			}
			if got != nil || n != 0 {
				t.Errorf("Digest = %v, %d with an error, want nil, 0", got, n)
			}
		})
	}
}

// failOnceReader returns its error once, then a clean EOF: a device that
// reports a failed read once.
type failOnceReader struct{ failAfterReader }

func (o *failOnceReader) Read(p []byte) (int, error) {
	n, err := o.failAfterReader.Read(p)
	if err != nil {
		o.err = io.EOF
	}
	return n, err
}

func TestDigestNoGoroutineLeak(t *testing.T) {
	settle := func() int {
		n := runtime.NumGoroutine()
		for range 100 {
			runtime.Gosched()
			time.Sleep(10 * time.Millisecond)
			if m := runtime.NumGoroutine(); m >= n {
				break
			} else {
				n = m
			}
		}
		return n
	}
	before := settle()
	for i := range 20 {
		r := &failAfterReader{digestTestData(digestBufSize*(i%5)+i, 5), errBadSector, i%2 == 0}
		if _, _, err := Digest(r, allHashAlgs, nil); !errors.Is(err, errBadSector) {
			t.Fatalf("Digest error = %v, want %v", err, errBadSector)
		}
	}
	// A progress function that panics must not strand the hashers either.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Digest did not propagate the panic of progress")
			}
		}()
		Digest(bytes.NewReader(digestTestData(threeBufsAnd17, 5)), allHashAlgs, func(int64) { panic("progress") })
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		after := runtime.NumGoroutine()
		if after <= before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runtime.NumGoroutine() = %d after failed Digests, want at most %d as before", after, before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDigestFileRefuses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "image.dd")
	data := digestTestData(1000, 6)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("symlink to a regular file", func(t *testing.T) {
		link := filepath.Join(dir, "link")
		if err := os.Symlink(file, link); err != nil {
			t.Skipf("no symlinks here: %v", err)
		}
		got, n, err := DigestFile(link, DefaultHashes, nil)
		if err != nil || n != 1000 || got[HashMD5] != stdlibDigests(data)[HashMD5] {
			t.Errorf("DigestFile(symlink) = %v, %d, %v; want the file's digests", got, n, err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, _, err := DigestFile(filepath.Join(dir, "nope"), nil, nil); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("DigestFile(missing) error = %v, want fs.ErrNotExist", err)
		}
	})
	refused := map[string]string{"directory": dir}
	if runtime.GOOS != "windows" {
		refused["character device"] = os.DevNull
	}
	if mkfifo, err := exec.LookPath("mkfifo"); err == nil {
		fifo := filepath.Join(dir, "fifo")
		if out, err := exec.Command(mkfifo, fifo).CombinedOutput(); err != nil {
			t.Fatalf("mkfifo: %v: %s", err, out)
		}
		refused["named pipe"] = fifo
	}
	for kind, path := range refused {
		t.Run(kind, func(t *testing.T) {
			// A named pipe would block an open: DigestFile must refuse it
			// before opening it.
			done := make(chan error, 1)
			go func() { _, _, err := DigestFile(path, nil, nil); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "is a "+kind) || !strings.Contains(err.Error(), path) {
					t.Errorf("DigestFile(%s) error = %v, want one saying %q and naming the path", path, err, "is a "+kind)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("DigestFile(%s) blocked", path)
			}
		})
	}
}

// TestDigestSumTools checks Digest against coreutils, tools we did not write.
func TestDigestSumTools(t *testing.T) {
	tools := map[string]string{HashSHA256: "sha256sum", HashSHA512: "sha512sum", HashSHA1: "sha1sum", HashMD5: "md5sum"}
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if missing != nil {
		t.Skipf("not on PATH: %s", strings.Join(missing, ", "))
	}
	path := filepath.Join(t.TempDir(), "image.dd")
	if err := os.WriteFile(path, digestTestData(threeBufsAnd17, 7), 0o600); err != nil {
		t.Fatal(err)
	}
	got, _, err := DigestFile(path, allHashAlgs, nil)
	if err != nil {
		t.Fatalf("DigestFile: %v", err)
	}
	for alg, tool := range tools {
		out, err := exec.Command(tool, path).Output()
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		want, _, _ := strings.Cut(string(out), " ")
		if got[alg] != want {
			t.Errorf("DigestFile(...)[%s] = %s, want %s (%s)", alg, got[alg], want, tool)
		}
	}
}

func TestParseHashList(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"sha256", []string{"sha256"}, ""},
		{"md5", []string{"sha256", "md5"}, ""},
		{"sha256,sha512,md5", []string{"sha256", "sha512", "md5"}, ""},
		{"md5,sha1,sha512,sha256", []string{"sha256", "sha512", "sha1", "md5"}, ""},
		{"md5, SHA1 ,md5,sha1", []string{"sha256", "sha1", "md5"}, ""},
		{"", nil, "malformed hash list: empty; want names from sha256, sha512, sha1, md5"},
		{" ", nil, "malformed hash list: empty"},
		{"sha256,,md5", nil, "malformed hash list: empty name at position 2"},
		{"sha256,", nil, "malformed hash list: empty name at position 2"},
		{"sha3-256,md5,blake3", nil, `malformed hash list: unknown hash "sha3-256", "blake3"; want names from sha256, sha512, sha1, md5`},
		{"sha-256", nil, `unknown hash "sha-256"`},
		{"sha384", nil, `unknown hash "sha384"`},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseHashList(tt.in)
			if tt.wantErr != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseHashList(%q) error = %v, want a *ParseError containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("ParseHashList(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseDigestFlag(t *testing.T) {
	sha := hexOf(64)
	for _, tt := range []struct {
		in, alg, hex string
		wantErr      string
	}{
		{"sha256:" + sha, "sha256", sha, ""},
		{"sha256:" + strings.ToUpper(sha), "sha256", sha, ""},
		{"SHA256:" + sha, "sha256", sha, ""},
		{"md5:" + hexOf(32), "md5", hexOf(32), ""},
		{"sha1:" + hexOf(40), "sha1", hexOf(40), ""},
		{"sha512:" + hexOf(128), "sha512", hexOf(128), ""},
		{sha, "", "", "malformed digest: want algorithm:hex"},
		{"", "", "", "malformed digest: want algorithm:hex"},
		{"sha384:" + hexOf(96), "", "", `malformed digest: unknown algorithm "sha384"; want one of sha256, sha512, sha1, md5`},
		{":" + sha, "", "", `unknown algorithm ""`},
		{"sha256:" + sha[:63], "", "", "malformed digest: sha256: want 64 hex characters, got 63"},
		{"sha256:" + sha + "0", "", "", "malformed digest: sha256: want 64 hex characters, got 65"},
		{"sha1:" + sha, "", "", "malformed digest: sha1: want 40 hex characters, got 64"},
		{"sha256:", "", "", "malformed digest: sha256: want 64 hex characters, got 0"},
		{"sha256:g" + sha[1:], "", "", "malformed digest: sha256: want 64 hex characters, got a character outside 0-9a-f"},
		{"sha256: " + sha[1:], "", "", "outside 0-9a-f"},
		{"sha256:" + sha[:32] + strings.ToUpper(sha[32:]), "", "", "malformed digest: sha256: mixed-case hex"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			alg, hex, err := ParseDigestFlag(tt.in)
			if tt.wantErr != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseDigestFlag(%q) error = %v, want a *ParseError containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || alg != tt.alg || hex != tt.hex {
				t.Errorf("ParseDigestFlag(%q) = %q, %q, %v, want %q, %q", tt.in, alg, hex, err, tt.alg, tt.hex)
			}
		})
	}
}

func TestDigestSetMatches(t *testing.T) {
	a, b := hexOf(64), sha256B
	m1, m2 := hexOf(32), strings.Repeat("c", 32)
	for _, tt := range []struct {
		name string
		x, y DigestSet
		want bool
	}{
		{"same", DigestSet{"sha256": a, "md5": m1}, DigestSet{"sha256": a, "md5": m1}, true},
		{"disjoint extras", DigestSet{"sha256": a, "md5": m1}, DigestSet{"sha256": a, "sha1": hexOf(40)}, true},
		{"sha256 differs", DigestSet{"sha256": a}, DigestSet{"sha256": b}, false},
		{"md5 differs", DigestSet{"sha256": a, "md5": m1}, DigestSet{"sha256": a, "md5": m2}, false},
		{"no sha256 on one side", DigestSet{"md5": m1}, DigestSet{"sha256": a, "md5": m1}, false},
		{"no sha256 either side", DigestSet{"md5": m1}, DigestSet{"md5": m1}, false},
		{"empty sha256", DigestSet{"sha256": ""}, DigestSet{"sha256": ""}, false},
		{"nil", nil, DigestSet{"sha256": a}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.x.Matches(tt.y); got != tt.want {
				t.Errorf("%v.Matches(%v) = %v, want %v", tt.x, tt.y, got, tt.want)
			}
			if got := tt.y.Matches(tt.x); got != tt.want {
				t.Errorf("%v.Matches(%v) = %v, want %v", tt.y, tt.x, got, tt.want)
			}
		})
	}
}
