//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package badgerstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// prepare readies the store directory for badger.Open: for a writer it
// removes empty log files (removeEmptyLogs), and for any open it runs
// preflight.
//
// It holds badger's own directory lock (flock on the directory, as
// badger's dir_unix.go takes it) meanwhile, so that it never touches the
// files of a badger that is running; if another process holds the lock it
// does nothing, and badger.Open reports the store in use (or, for a
// reader beside other readers, opens a store they already opened).
func prepare(dir string, readOnly bool, logf func(string, ...any)) error {
	d, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new store
	}
	if err != nil {
		return err
	}
	defer d.Close() // releases the lock
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil
	}
	if !readOnly {
		if err := removeEmptyLogs(d, dir); err != nil {
			return err
		}
	}
	return preflight(dir, logf)
}

// removeEmptyLogs removes the empty memtable (.mem) and value log (.vlog)
// files that a process killed between badger's creating such a file and
// sizing it leaves behind: badger v4 refuses to open a directory holding
// one (dgraph-io/badger#2207). An empty file holds nothing, so removing it
// returns the directory to its state before the file was created.
func removeEmptyLogs(d *os.File, dir string) error {
	ents, err := d.ReadDir(-1)
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || !(strings.HasSuffix(name, ".mem") || strings.HasSuffix(name, ".vlog")) {
			continue
		}
		if fi, err := e.Info(); err != nil || fi.Size() != 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
