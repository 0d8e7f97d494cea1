//go:build !unix

package witness

// lockFile does not lock where flock(2) does not exist: there, running
// one process per state directory is up to the operator.
func lockFile(path string) (unlock func() error, err error) {
	return func() error { return nil }, nil
}
