package attribution

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPure keeps the package a pure function library: its non-test files
// import only computation (no os, net, time, randomness, no package of
// custos) and the YAML converter. Test files may do as they please.
func TestPure(t *testing.T) {
	allowed := map[string]bool{
		"bytes": true, "cmp": true, "crypto/sha256": true, "encoding/hex": true,
		"encoding/json": true, "errors": true, "fmt": true, "reflect": true,
		"regexp": true, "slices": true, "strconv": true, "strings": true,
		"unicode": true, "unicode/utf8": true,
		// io only for io.EOF and io.Reader over in-memory bytes.
		"io":                 true,
		"go.yaml.in/yaml/v2": true, "sigs.k8s.io/yaml": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[path] {
				t.Errorf("%s imports %s: the evaluator must stay a pure function of its inputs", name, path)
			}
		}
		checked++
	}
	if checked < 5 {
		t.Fatalf("checked %d files, want the package's", checked)
	}
}
