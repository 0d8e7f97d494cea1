package ledger_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/custos-ledger/custos/ledger"
)

func TestReadFileCapped(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := ledger.WriteFileAtomic(path, []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ledger.ReadFileCapped(path, 5); err != nil || string(b) != "12345" {
		t.Fatalf("ReadFileCapped(5-byte file, 5) = %q, %v", b, err)
	}
	_, err := ledger.ReadFileCapped(path, 4)
	var pe *ledger.ParseError
	if !errors.As(err, &pe) || pe.Field != path {
		t.Fatalf("ReadFileCapped(5-byte file, 4) = %v, want a *ParseError naming %s", err, path)
	}
}

// TestWriteAtomicFailure: a write that fails leaves the old file as it was
// and no temporary file behind.
func TestWriteAtomicFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := ledger.WriteFileAtomic(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := ledger.WriteAtomic(path, 0o644, func(w io.Writer) error {
		w.Write([]byte("half of the new"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WriteAtomic = %v, want the write's error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("file after a failed WriteAtomic = %q, want %q", b, "old")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries after a failed WriteAtomic, want 1 (no temporary file)", len(ents))
	}
}
