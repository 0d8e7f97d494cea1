package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestDemoPoliciesAreTheExamples keeps the demo's embedded policies equal
// to the example policies in testdata/policies.
func TestDemoPoliciesAreTheExamples(t *testing.T) {
	want, err := filepath.Glob("../../testdata/policies/*.yaml")
	if err != nil || len(want) != 3 {
		t.Fatalf("testdata/policies: %v, %v, want 3 policies", want, err)
	}
	for _, f := range want {
		a, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := demoPolicies.ReadFile("policies/" + filepath.Base(f))
		if err != nil {
			t.Fatalf("the demo does not embed %s: %v", filepath.Base(f), err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("cmd/custos/policies/%s differs from testdata/policies/%s: copy it again", filepath.Base(f), filepath.Base(f))
		}
	}
}
