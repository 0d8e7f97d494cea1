//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package badgerstore

// removeEmptyLogs is a no-op where badger's directory lock is not flock:
// a store left with an empty log file by a crash (dgraph-io/badger#2207)
// must be repaired by hand there, by removing the empty *.mem and *.vlog
// files.
func removeEmptyLogs(dir string) error { return nil }
