package verify_test

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"
)

// TestImports fails if package verify, or any custos package it imports,
// imports a storage engine: verification runs where no ledger is (DESIGN
// §4). Test files are not followed.
func TestImports(t *testing.T) {
	const module = "github.com/custos-ledger/custos"
	forbidden := []string{module + "/ledger/badgerstore", "github.com/dgraph-io/badger"}
	seen := map[string]bool{}
	var walk func(path string, from []string)
	walk = func(path string, from []string) {
		if seen[path] {
			return
		}
		seen[path] = true
		dir := filepath.Join("..", filepath.FromSlash(strings.TrimPrefix(path, module)))
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		from = append(from, path)
		for _, imp := range pkg.Imports {
			for _, f := range forbidden {
				if imp == f || strings.HasPrefix(imp, f+"/") {
					t.Errorf("%s imports %s", strings.Join(from, " -> "), imp)
				}
			}
			if imp == module || strings.HasPrefix(imp, module+"/") {
				walk(imp, from)
			}
		}
	}
	walk(module+"/verify", nil)
	if !seen[module+"/ledger"] {
		t.Errorf("walked %v, want it to reach %s/ledger: the walk is broken", seen, module)
	}
}
