package ledger

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	tlogfmt "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
)

// MaxCheckpointSize caps a signed checkpoint (body and signature lines,
// cosignatures included) before it is parsed.
const MaxCheckpointSize = 64 << 10

// MaxTreeSize bounds the tree sizes a checkpoint may claim: sumdb/tlog's
// proof code does not terminate for sizes above 2^62, and a log signing
// such a checkpoint (a compromised log key) must not hang a verifier.
const MaxTreeSize = 1 << 62

// A Checkpoint is the body of a C2SP tlog-checkpoint
// (https://c2sp.org/tlog-checkpoint): the log's origin, its size and the
// RFC 6962 root over its first Size leaves.
//
//	example.org/cert-ledger
//	7
//	7n6tSk7qQ1UU6c7yGHOmtBSGJYDzXK2M/1vnAvbqHDQ=
//
// custos checkpoints carry no extension lines.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   Hash
}

// Marshal returns the checkpoint body, the text a note signature covers.
func (c Checkpoint) Marshal() []byte {
	return tlogfmt.Checkpoint{Origin: c.Origin, Size: uint64(c.Size), Hash: c.Root[:]}.Marshal()
}

// ParseCheckpoint parses a checkpoint body (not a signed note). Errors are
// *ParseError.
func ParseCheckpoint(body []byte) (Checkpoint, error) {
	bad := func(msg string) error { return &ParseError{What: "checkpoint", Msg: msg} }
	var c tlogfmt.Checkpoint
	rest, err := c.Unmarshal(body)
	if err != nil {
		return Checkpoint{}, bad(err.Error())
	}
	if len(rest) != 0 {
		return Checkpoint{}, bad("unexpected extension lines")
	}
	if c.Size >= MaxTreeSize {
		return Checkpoint{}, bad(fmt.Sprintf("size %d out of range (at most %d)", c.Size, uint64(MaxTreeSize-1)))
	}
	if len(c.Hash) != len(Hash{}) {
		return Checkpoint{}, bad(fmt.Sprintf("root is %d bytes, want %d", len(c.Hash), len(Hash{})))
	}
	out := Checkpoint{Origin: c.Origin, Size: int64(c.Size)}
	copy(out.Root[:], c.Hash)
	if !bytes.Equal(out.Marshal(), body) {
		return Checkpoint{}, bad("not in canonical form")
	}
	return out, nil
}

// SignCheckpoint signs c as a C2SP signed note.
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: string(c.Marshal())}, s)
}

// OpenCheckpoint verifies a signed checkpoint with the log's verifier and
// parses its body. Signatures by other keys (witness cosignatures) are kept
// in the returned note's UnverifiedSigs. The checkpoint's origin must be the
// verifier's name.
func OpenCheckpoint(signed []byte, log note.Verifier) (Checkpoint, *note.Note, error) {
	if len(signed) > MaxCheckpointSize {
		return Checkpoint{}, nil, &ParseError{What: "checkpoint", Msg: fmt.Sprintf("%d bytes exceeds the %d-byte cap", len(signed), MaxCheckpointSize)}
	}
	n, err := note.Open(signed, note.VerifierList(log))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return Checkpoint{}, nil, fmt.Errorf("checkpoint not signed by log key %s: %w", log.Name(), err)
		}
		return Checkpoint{}, nil, fmt.Errorf("checkpoint signature: %w", err)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if c.Origin != log.Name() {
		return Checkpoint{}, nil, &ParseError{What: "checkpoint", Field: "origin", Msg: fmt.Sprintf("%q, want %q", c.Origin, log.Name())}
	}
	return c, n, nil
}

// WriteFileAtomic replaces path with data so that a reader (or a crash)
// sees the old file or the new one, never a mix: temp file, fsync, rename,
// fsync of the directory. custos writes every file it keeps this way
// (checkpoint files, keys, witness state).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return WriteAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteAtomic is WriteFileAtomic for content written as a stream (a
// bundle): write fills the temporary file, which replaces path only when
// write and the sync succeed.
func WriteAtomic(path string, perm os.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ReadFileCapped reads a whole file of at most limit bytes, reading no more
// than limit+1 bytes whatever the file claims. A larger file is a
// *ParseError naming it.
func ReadFileCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &ParseError{What: "file", Field: path, Msg: fmt.Sprintf("more than the %d-byte cap", limit)}
	}
	return b, nil
}
