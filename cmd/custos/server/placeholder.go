package server

import (
	"fmt"
	"html"
	"net/http"
)

// handleIndex serves Config.Dashboard when set, else a placeholder page
// naming the log and its size: public data only.
func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	if s.dashboard != nil {
		s.dashboard.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "GET or HEAD only", nil)
		return
	}
	_, size := s.log.Checkpoint()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	fmt.Fprintf(w, "<!doctype html>\n<meta charset=utf-8>\n<title>custos ledger</title>\n<h1>custos ledger: size %d</h1>\n<p>%s</p>\n",
		size, html.EscapeString(s.log.Origin()))
}
