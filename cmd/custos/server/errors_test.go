package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
)

// TestAppendErrorCode pins the status of each class of append error, and
// that an answer for a server-side failure says the entry was not appended
// without passing on the store's own message (which names its path).
func TestAppendErrorCode(t *testing.T) {
	for _, tc := range []struct {
		err      error
		code     int
		say, not string
	}{
		{&custody.RuleError{Rule: "holder-only", Exhibit: "E-1"}, http.StatusUnprocessableEntity, "holder-only", ""},
		{&custody.ParseError{What: "statement", Field: "subject", Err: errors.New("missing")}, http.StatusBadRequest, "subject", ""},
		{fmt.Errorf("committing: %w", ledger.ErrClosed), http.StatusServiceUnavailable, "submit it again", ""},
		{fmt.Errorf("committing leaves 7..7: %w: the ledger store /srv/custos/store has 1.0 MiB free", ledger.ErrNoSpace), http.StatusInsufficientStorage, "disk is full; the entry was not appended", "/srv/custos"},
		{errors.New("badger: something at /srv/custos/store"), http.StatusInternalServerError, "not appended", "/srv/custos"},
		{context.Canceled, http.StatusServiceUnavailable, "not appended", ""},
	} {
		if got := appendErrorCode(tc.err); got != tc.code {
			t.Errorf("appendErrorCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
		w := httptest.NewRecorder()
		writeAppendError(w, tc.err)
		body := w.Body.String()
		if w.Code != tc.code || !strings.Contains(body, tc.say) || (tc.not != "" && strings.Contains(body, tc.not)) {
			t.Errorf("writeAppendError(%v) = %d %s; want %d saying %q and not %q", tc.err, w.Code, body, tc.code, tc.say, tc.not)
		}
	}
}
