package main

import (
	"fmt"
	"testing"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify/witness"
)

// TestExitCodeInUse: a ledger or a witness state held by another process
// is exit 5 however deep the error is wrapped.
func TestExitCodeInUse(t *testing.T) {
	for _, err := range []error{
		ledger.ErrInUse,
		fmt.Errorf("opening: %w", ledger.ErrInUse),
		fmt.Errorf("witness state w1: %w", witness.ErrInUse),
	} {
		if got := exitCode(err); got != exitInUse {
			t.Errorf("exitCode(%v) = %d, want %d", err, got, exitInUse)
		}
	}
}
