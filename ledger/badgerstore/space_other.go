//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package badgerstore

// freeBytes is unknown here: the free-space reserve is not enforced.
func freeBytes(dir string) (int64, bool) { return 0, false }
