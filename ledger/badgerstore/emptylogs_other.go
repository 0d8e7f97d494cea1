//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package badgerstore

// prepare runs preflight without a lock where badger's directory lock is
// not flock. Empty log files are not removed: a store left with one by a
// crash (dgraph-io/badger#2207) must be repaired by hand there, by removing
// the empty *.mem and *.vlog files.
func prepare(dir string, readOnly bool, logf func(string, ...any)) error {
	return preflight(dir, logf)
}
