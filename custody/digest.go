package custody

// Forensic hashing: one streaming read of an artifact feeds every hash of a
// set, each on its own goroutine, so that hashing an image with the digests an
// imager logs (FTK Imager, EnCase and Guymager log MD5 and SHA-1 beside
// SHA-256) costs one read of the evidence and uses every core.

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// Hash algorithm names as they appear in in-toto digest sets
// (https://github.com/in-toto/attestation/blob/main/spec/v1/digest_set.md).
const (
	HashSHA256 = "sha256"
	HashSHA512 = "sha512"
	HashSHA1   = "sha1"
	HashMD5    = "md5"
)

// DefaultHashes is the set hashed when none is asked for: SHA-256, by which
// custos identifies an artifact, and the SHA-1 and MD5 that imagers log, so
// that an examiner can compare the custody record with the acquisition log.
var DefaultHashes = []string{HashSHA256, HashSHA1, HashMD5}

// hashOrder is the canonical order of a hash list: the identity digest first,
// then from strongest to weakest.
var hashOrder = []string{HashSHA256, HashSHA512, HashSHA1, HashMD5}

var newHash = map[string]func() hash.Hash{
	HashSHA256: sha256.New,
	HashSHA512: sha512.New,
	HashSHA1:   sha1.New,
	HashMD5:    md5.New,
}

// DigestSet maps a hash algorithm name to the lowercase hex digest of an
// artifact: the "digest" of an in-toto ResourceDescriptor.
type DigestSet map[string]string

// Matches reports whether d and other describe the same artifact: both carry
// a SHA-256 digest, and they agree on every algorithm they both carry. An
// algorithm only one of them carries is not compared.
func (d DigestSet) Matches(other DigestSet) bool {
	if d[HashSHA256] == "" || other[HashSHA256] == "" {
		return false
	}
	for alg, v := range d {
		if w, ok := other[alg]; ok && w != v {
			return false
		}
	}
	return true
}

// ParseHashList parses the value of a --hash flag, a comma-separated list of
// algorithm names such as "sha256,sha512,md5". Names are case-insensitive and
// may be padded with spaces. SHA-256 is added if missing, duplicates collapse,
// and the result is in canonical order (sha256, sha512, sha1, md5). Every
// unknown name is reported in one *ParseError.
func ParseHashList(s string) ([]string, error) {
	const what = "hash list"
	if strings.TrimSpace(s) == "" {
		return nil, parseErr(what, "", "empty; want names from %s", strings.Join(hashOrder, ", "))
	}
	want := map[string]bool{HashSHA256: true}
	var unknown []string
	for i, name := range strings.Split(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		switch {
		case name == "":
			return nil, parseErr(what, "", "empty name at position %d", i+1)
		case newHash[name] == nil:
			unknown = append(unknown, quoteShort(name))
		default:
			want[name] = true
		}
	}
	if unknown != nil {
		return nil, parseErr(what, "", "unknown hash %s; want names from %s",
			strings.Join(unknown, ", "), strings.Join(hashOrder, ", "))
	}
	return canonicalHashes(want), nil
}

func canonicalHashes(want map[string]bool) []string {
	var algs []string
	for _, alg := range hashOrder {
		if want[alg] {
			algs = append(algs, alg)
		}
	}
	return algs
}

// ParseDigestFlag parses the value of a --digest flag, "alg:hex", by which an
// examiner records the digest of an artifact hashed elsewhere, for example
// "sha256:9f86d0…". The algorithm must be one this package hashes and the hex
// digest must have its length. The hex may be all lowercase (sha256sum) or all
// uppercase (FTK Imager, certutil) and is returned lowercase; mixed case is
// refused as a sign of a hand-edited value.
func ParseDigestFlag(s string) (alg, hexDigest string, err error) {
	const what = "digest"
	alg, v, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", parseErr(what, "", "want algorithm:hex, as in sha256:<64 hex characters>, got %s", quoteShort(s))
	}
	alg = strings.ToLower(alg)
	if newHash[alg] == nil {
		return "", "", parseErr(what, "", "unknown algorithm %s; want one of %s", quoteShort(alg), strings.Join(hashOrder, ", "))
	}
	n := hexDigestLen[alg]
	lower := strings.ToLower(v)
	switch {
	case len(v) != n:
		return "", "", parseErr(what, alg, "want %d hex characters, got %d", n, len(v))
	case !isLowerHex(lower):
		return "", "", parseErr(what, alg, "want %d hex characters, got a character outside 0-9a-f", n)
	case v != lower && v != strings.ToUpper(v):
		return "", "", parseErr(what, alg, "mixed-case hex; want all lowercase or all uppercase")
	}
	return alg, lower, nil
}

// ReadError is returned by Digest and DigestFile when reading the artifact
// fails. Offset is where in the stream reading failed: the number of bytes
// read before the error, counting any that the failing read returned with it.
// Path is the file's path (DigestFile only). No digest is returned with it.
type ReadError struct {
	Path   string
	Offset int64
	Err    error
}

func (e *ReadError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("read error at byte %d: %v", e.Offset, e.Err)
	}
	return fmt.Sprintf("%s: read error at byte %d: %v", e.Path, e.Offset, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// The shared read buffers: digestBufs buffers of digestBufSize bytes. The
// reader fills a free buffer and hands it to every hasher; the last hasher
// done with it frees it. Several buffers let a fast hasher run ahead of a slow
// one, so that the scheduler always has a hash to run on every core.
const (
	digestBufSize = 1 << 20
	digestBufs    = 8
)

// digestBuf is one shared read buffer. refs counts the hashers that have yet
// to hash buf[:n]; the one that brings it to zero puts it back on the free
// list.
type digestBuf struct {
	buf  []byte
	n    int
	refs atomic.Int32
}

// Digest reads r to EOF once and returns the digest of its content by every
// algorithm of algs (SHA-256 is always computed, so a nil algs gives SHA-256
// alone), with the number of bytes read. Each hash runs on its own goroutine
// over buffers shared by all of them.
//
// If progress is not nil, Digest calls it on the calling goroutine after each
// buffer it reads (each MiB, the last one possibly shorter; none for an empty
// stream) with the number of bytes read so far: the values increase and the
// last is the size returned. Hashing lags them by at most 8 MiB.
//
// A read error other than io.EOF is returned as a *ReadError, with no digests,
// even if it comes with the last bytes of the stream. Digest returns only when
// all its goroutines have ended.
func Digest(r io.Reader, algs []string, progress func(done int64)) (DigestSet, int64, error) {
	want := map[string]bool{HashSHA256: true}
	for _, alg := range algs {
		if newHash[alg] == nil {
			return nil, 0, fmt.Errorf("custody: unknown hash algorithm %s", quoteShort(alg))
		}
		want[alg] = true
	}
	names := canonicalHashes(want)

	free := make(chan *digestBuf, digestBufs)
	for range digestBufs {
		free <- &digestBuf{buf: make([]byte, digestBufSize)}
	}
	// Every hasher's queue can hold every block, so the reader never waits
	// on a hasher, only on a free block.
	queues := make([]chan *digestBuf, len(names))
	hashes := make([]hash.Hash, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		q, h := make(chan *digestBuf, digestBufs), newHash[name]()
		queues[i], hashes[i] = q, h
		wg.Go(func() {
			for b := range q {
				h.Write(b.buf[:b.n])
				if b.refs.Add(-1) == 0 {
					free <- b
				}
			}
		})
	}
	// Deferred, so that the hashers end even if r or progress panics.
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			for _, q := range queues {
				close(q)
			}
			wg.Wait()
		}
	}
	defer stop()

	var done int64
	for {
		b := <-free
		n, err := fillBuf(r, b.buf)
		if err != nil && err != io.EOF {
			return nil, 0, &ReadError{Offset: done + int64(n), Err: err}
		}
		if n > 0 {
			b.n = n
			b.refs.Store(int32(len(queues)))
			for _, q := range queues {
				q <- b
			}
			done += int64(n)
			if progress != nil {
				progress(done)
			}
		}
		if err == io.EOF {
			break
		}
	}
	stop()

	d := make(DigestSet, len(names))
	for i, name := range names {
		d[name] = hex.EncodeToString(hashes[i].Sum(nil))
	}
	return d, done, nil
}

// errNoProgress is returned, as bufio does, by a reader that keeps returning
// no data and no error.
var errNoProgress = errors.New("reader returned no data and no error 100 times in a row")

// fillBuf reads into buf until it is full, r returns an error, or r makes no
// progress. Unlike io.ReadFull it never drops an error that comes with the
// bytes that fill buf: an error at the very end of a device must not be lost.
func fillBuf(r io.Reader, buf []byte) (int, error) {
	n, empty := 0, 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		if m < 0 || m > len(buf)-n {
			return n, fmt.Errorf("reader returned an invalid count %d for a %d-byte buffer", m, len(buf)-n)
		}
		n += m
		if err != nil {
			return n, err
		}
		if m > 0 {
			empty = 0
		} else if empty++; empty == 100 {
			return n, errNoProgress
		}
	}
	return n, nil
}

// DigestFile hashes the file at path as Digest does. It accepts regular files
// and block devices (a disk acquired in place); it refuses directories,
// character devices, pipes and sockets before opening them, since they have
// no fixed content to identify. A read error is a *ReadError naming path.
func DigestFile(path string, algs []string, progress func(done int64)) (DigestSet, int64, error) {
	// Checked before opening, because opening a named pipe blocks until a
	// writer comes; checked again on the open file, which may not be the
	// file first seen.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	if err := checkHashable(path, fi); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	ofi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if err := checkHashable(path, ofi); err != nil {
		return nil, 0, err
	}
	d, n, err := Digest(f, algs, progress)
	if re, ok := err.(*ReadError); ok {
		re.Path = path
	}
	return d, n, err
}

func checkHashable(path string, fi fs.FileInfo) error {
	m := fi.Mode()
	var kind string
	switch {
	case m.IsRegular():
		return nil
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0:
		return nil // block device
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeCharDevice != 0:
		kind = "a character device"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	default:
		kind = "not a regular file (" + m.Type().String() + ")"
	}
	return &fs.PathError{Op: "hash", Path: path, Err: fmt.Errorf("is %s; want a regular file or a block device", kind)}
}
