package custody

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The hashing benchmarks run over one large file, created once in
// os.TempDir and kept there for later runs (2 GiB: larger than any CPU cache,
// small enough for the page cache, so that they measure hashing, not the
// disk). CUSTOS_HASHBENCH_FILE names another file, used as it is if it
// exists; CUSTOS_HASHBENCH_SIZE sets the size of a file to create ("256M",
// "2G" or bytes). .ci/hashbench runs them and compares the one-pass hash of
// every algorithm with the sum of the single-algorithm times.

var hashBenchFile = sync.OnceValues(func() (string, error) {
	size := int64(2 << 30)
	if s := os.Getenv("CUSTOS_HASHBENCH_SIZE"); s != "" {
		var err error
		if size, err = parseBenchSize(s); err != nil {
			return "", fmt.Errorf("CUSTOS_HASHBENCH_SIZE: %v", err)
		}
	}
	path := os.Getenv("CUSTOS_HASHBENCH_FILE")
	if path == "" {
		path = filepath.Join(os.TempDir(), fmt.Sprintf("custos-hashbench-%d.bin", size))
	}
	if _, err := os.Stat(path); os.IsNotExist(err) {
		if err := writeBenchFile(path, size); err != nil {
			return "", err
		}
	}
	// Warm the page cache.
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = io.CopyBuffer(io.Discard, f, make([]byte, digestBufSize))
	return path, err
})

// writeBenchFile writes size pseudo-random bytes to path, through a
// temporary file so that an interrupted run leaves no short file behind.
func writeBenchFile(path string, size int64) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 4<<20)
	if _, err := io.CopyN(w, rand.NewChaCha8([32]byte{'c', 'u', 's', 't', 'o', 's'}), size); err != nil {
		tmp.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// parseBenchSize parses "256M", "2G", "64K" (binary units) or a byte count.
func parseBenchSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult = 1 << 10
	case strings.HasSuffix(s, "M"):
		mult = 1 << 20
	case strings.HasSuffix(s, "G"):
		mult = 1 << 30
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a positive size such as 256M or 2G, got %q", s)
	}
	return n * mult, nil
}

func benchFile(b *testing.B) (string, int64) {
	if testing.Short() {
		b.Skip("hashes a 2 GiB file; skipped under -short")
	}
	path, err := hashBenchFile()
	if err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	return path, fi.Size()
}

// BenchmarkDigestAll hashes the file with every algorithm in one pass.
func BenchmarkDigestAll(b *testing.B) {
	path, size := benchFile(b)
	for b.Loop() {
		if _, n, err := DigestFile(path, allHashAlgs, nil); err != nil || n != size {
			b.Fatalf("DigestFile = %d, %v, want %d bytes", n, err, size)
		}
	}
}

// BenchmarkDigestSingle hashes the file with one algorithm, the plain way:
// one goroutine reading 1 MiB at a time into the hash. The sum of their
// times over the number of cores is the best that BenchmarkDigestAll can do.
func BenchmarkDigestSingle(b *testing.B) {
	for _, alg := range allHashAlgs {
		b.Run("alg="+alg, func(b *testing.B) {
			path, size := benchFile(b)
			buf := make([]byte, digestBufSize)
			for b.Loop() {
				h := newHash[alg]()
				if n := benchReadFile(b, path, buf, h); n != size {
					b.Fatalf("read %d bytes, want %d", n, size)
				}
				h.Sum(nil)
			}
		})
	}
}

// BenchmarkReadFile reads the file and hashes nothing: the cost of the read
// that each BenchmarkDigestSingle pays and BenchmarkDigestAll pays once.
func BenchmarkReadFile(b *testing.B) {
	path, size := benchFile(b)
	buf := make([]byte, digestBufSize)
	for b.Loop() {
		if n := benchReadFile(b, path, buf, io.Discard); n != size {
			b.Fatalf("read %d bytes, want %d", n, size)
		}
	}
}

func benchReadFile(b *testing.B, path string, buf []byte, w io.Writer) int64 {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var total int64
	for {
		n, err := f.Read(buf)
		w.Write(buf[:n])
		total += int64(n)
		if err == io.EOF {
			return total
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}
