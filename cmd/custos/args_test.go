package main

import (
	"io"
	"slices"
	"strings"
	"testing"
)

func TestReorderArgs(t *testing.T) {
	app, _ := newApp(strings.NewReader(""), io.Discard, io.Discard)
	tests := []struct{ in, want string }{
		{"custos submit s.json --ledger L --key K", "custos submit --ledger L --key K s.json"},
		{"custos submit --ledger L s.json --json --key K", "custos submit --ledger L --json --key K s.json"},
		{"custos submit --ledger=L s.json", "custos submit --ledger=L s.json"},
		{"custos key generate --out k", "custos key generate --out k"},
		{"custos submit --key K -- -odd-name.json --json", "custos submit --key K -- -odd-name.json --json"},
		{"custos nosuch a --b", "custos nosuch a --b"},
		{"custos submit -", "custos submit -"},
	}
	for _, tt := range tests {
		got := strings.Join(reorderArgs(app, strings.Fields(tt.in)), " ")
		if got != tt.want {
			t.Errorf("reorderArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if in := strings.Fields("custos show --index 3"); !slices.Equal(reorderArgs(app, in), in) {
		t.Errorf("reorderArgs changed an already ordered command line")
	}
}
