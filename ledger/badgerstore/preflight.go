package badgerstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
)

// orphanDir is where preflight moves the tables that the MANIFEST does not
// name, inside the store directory (badger looks only at the top level).
const orphanDir = "orphan-tables"

// preflight checks the store directory before badger opens it, for the
// damage that badger v4.9.6 turns into data loss or a crash:
//
//   - a MANIFEST that is missing or unreadable while tables exist: badger
//     would start a new MANIFEST and delete every table;
//   - a table the MANIFEST does not name: badger deletes it (levels.go,
//     revertToManifest), on a read-only open too. After a crash between
//     writing a table and recording it the table is garbage, but after a
//     MANIFEST lost its tail it holds acknowledged leaves, and preflight
//     cannot tell the two apart: it moves the table into orphan-tables/,
//     where nothing deletes it, and says so;
//   - a damaged table: badger panics in its own goroutines (a nil block in
//     table.VerifyChecksum's error path, a truncated index in initIndex),
//     where no recover of ours reaches, or skips a table whose checksum
//     does not match and opens without it. preflight opens each table,
//     verifying every block's checksum, and refuses the store, naming the
//     table.
//
// It runs under badger's directory lock (the caller holds it), so it never
// looks at a store a running badger is changing. logf reports what it
// moved.
func preflight(dir string, logf func(format string, args ...any)) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new store
	}
	if err != nil {
		return err
	}
	var ids []uint64
	for _, e := range ents {
		if id, ok := table.ParseFileID(e.Name()); ok && strings.HasSuffix(e.Name(), ".sst") && e.Type().IsRegular() {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	f, err := os.Open(filepath.Join(dir, "MANIFEST"))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("storage damaged: the MANIFEST is missing but %d tables are present (badger would delete them): restore the store from a backup", len(ids))
	}
	if err != nil {
		return fmt.Errorf("storage damaged: reading the MANIFEST: %w", err)
	}
	mf, _, err := badger.ReplayManifestFile(f, 0, badger.DefaultOptions(dir))
	f.Close()
	if err != nil {
		return fmt.Errorf("storage damaged: the MANIFEST is unreadable (%v) and %d tables are present: restore the store from a backup", err, len(ids))
	}
	for _, id := range ids {
		tm, named := mf.Tables[id]
		name := table.IDToFilename(id)
		if !named {
			if err := moveOrphan(dir, name); err != nil {
				return fmt.Errorf("storage damaged: table %s is not named by the MANIFEST and could not be set aside: %w", name, err)
			}
			if logf != nil {
				logf("table %s is not named by the MANIFEST: moved to %s (after a crash it is an unfinished table; otherwise the MANIFEST lost records and the table holds data)", name, filepath.Join(orphanDir, name))
			}
			continue
		}
		if err := checkTable(filepath.Join(dir, name), tm.Compression); err != nil {
			return fmt.Errorf("storage damaged: table %s: %w: restore the store from a backup", name, err)
		}
	}
	return nil
}

// moveOrphan moves the table name into dir/orphan-tables, never replacing
// a file already there.
func moveOrphan(dir, name string) error {
	od := filepath.Join(dir, orphanDir)
	if err := os.MkdirAll(od, 0o755); err != nil {
		return err
	}
	dst := filepath.Join(od, name)
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) {
			break
		}
		dst = filepath.Join(od, fmt.Sprintf("%s.%d", name, i))
	}
	if err := os.Rename(filepath.Join(dir, name), dst); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// checkTable opens the table at path read-only and verifies the checksum of
// every block, turning badger's panics on damaged tables into errors.
func checkTable(path string, compression options.CompressionType) (err error) {
	fd, err := os.Open(path)
	if err != nil {
		return err
	}
	mf, err := z.OpenMmapFileUsing(fd, 0, false)
	if err != nil {
		fd.Close()
		return err
	}
	// OpenTable unmaps the file on some errors and not on others, and a
	// panic leaves it mapped: on any failure the mapping is left for the
	// process to drop, rather than risk unmapping it twice.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged (badger: %v)", r)
		}
	}()
	t, err := table.OpenTable(mf, table.Options{
		ReadOnly:    true,
		BlockSize:   4 << 10,
		ChkMode:     options.OnTableAndBlockRead,
		Compression: compression,
	})
	if err != nil {
		return fmt.Errorf("damaged (%v)", err)
	}
	return t.MmapFile.Close(-1)
}
