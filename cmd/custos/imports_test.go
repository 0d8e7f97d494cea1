package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportEdges enforces DESIGN.md §4: dependencies point one way
// (cmd → verify, ledger, custody; verify → ledger's formats and the proof
// libraries; ledger/<store> → ledger), the verifier never links storage,
// and sigstore stays behind package custody.
func TestImportEdges(t *testing.T) {
	const mod = "github.com/custos-ledger/custos"
	out, err := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}}|{{join .Imports " "}}|{{join .Deps " "}}`, mod+"/...").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	type rule struct {
		pkg        string // package path prefix the rule applies to
		forbidden  string // import path prefix
		transitive bool   // check all dependencies, not only direct imports
	}
	rules := []rule{
		{mod + "/custody", mod + "/ledger", true},
		{mod + "/custody", mod + "/verify", true},
		{mod + "/custody", "github.com/dgraph-io/badger", true},
		{mod + "/ledger", mod + "/custody", true},
		{mod + "/ledger", mod + "/verify", true},
		{mod + "/verify", mod + "/ledger/badgerstore", true},
		{mod + "/verify", "github.com/dgraph-io/badger", true},
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 {
			t.Fatalf("go list line %q", line)
		}
		pkg, imports, deps := parts[0], strings.Fields(parts[1]), strings.Fields(parts[2])
		if pkg != mod+"/ledger" && strings.HasPrefix(pkg, mod+"/ledger/") && !strings.HasPrefix(pkg, mod+"/ledger/badgerstore") {
			for _, imp := range deps {
				if strings.HasPrefix(imp, "github.com/dgraph-io/badger") && !strings.Contains(pkg, "/internal/") {
					t.Errorf("%s depends on %s: only ledger/badgerstore may", pkg, imp)
				}
			}
		}
		if pkg == mod+"/ledger" {
			for _, imp := range deps {
				if strings.HasPrefix(imp, "github.com/dgraph-io/badger") {
					t.Errorf("ledger depends on %s: storage belongs in ledger/badgerstore", imp)
				}
			}
		}
		for _, imp := range imports {
			if strings.HasPrefix(imp, "github.com/sigstore/") && pkg != mod+"/custody" {
				t.Errorf("%s imports %s: sigstore stays behind package custody", pkg, imp)
			}
		}
		for _, r := range rules {
			if pkg != r.pkg && !strings.HasPrefix(pkg, r.pkg+"/") {
				continue
			}
			list := imports
			if r.transitive {
				list = deps
			}
			for _, imp := range list {
				if imp == r.forbidden || strings.HasPrefix(imp, r.forbidden+"/") {
					t.Errorf("%s depends on %s: forbidden edge (DESIGN.md §4)", pkg, imp)
				}
			}
			checked++
		}
	}
	if checked < len(rules) {
		t.Fatalf("only %d rule applications for %d rules: go list output lacks the packages?", checked, len(rules))
	}
}
