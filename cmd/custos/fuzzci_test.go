package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFuzzTargetsInCI fails when a fuzz target in the tree is missing from
// the fuzz smoke in .ci/run: a target nobody runs finds nothing.
func TestFuzzTargetsInCI(t *testing.T) {
	root := filepath.Join("..", "..")
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	target := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\)`)
	n := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		for _, m := range target.FindAllSubmatch(b, -1) {
			n++
			line := "fuzz ./" + filepath.ToSlash(rel) + " " + string(m[1])
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + `( |$)`).Match(ci) {
				t.Errorf("%s: %s is not in .ci/run's fuzz smoke (want a line %q)", path, m[1], line)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Errorf("found %d fuzz targets; the walk is broken", n)
	}
}
