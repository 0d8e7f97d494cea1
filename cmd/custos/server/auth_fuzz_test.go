package server

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// FuzzAuthenticate feeds arbitrary Custos-Party, Custos-Date and
// Custos-Signature headers, method and target to the server's request
// authentication (an input any client reaches). It must never panic, and
// it may name a party only for the request the seed signed: the fuzzer
// cannot forge a signature, so any other success is a bug.
func FuzzAuthenticate(f *testing.F) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	fx := newFixture(f, Config{Now: func() time.Time { return now }})
	req, err := http.NewRequest(http.MethodGet, "/custos/v1/status", nil)
	if err != nil {
		f.Fatal(err)
	}
	req.RequestURI = "/custos/v1/status"
	if err := signRequestAt(req, "cert", fx.parties["cert"], now); err != nil {
		f.Fatal(err)
	}
	valid := [5]string{http.MethodGet, req.RequestURI, req.Header.Get(HeaderParty), req.Header.Get(HeaderDate), req.Header.Get(HeaderSignature)}
	f.Add(valid[0], valid[1], valid[2], valid[3], valid[4])
	f.Add(http.MethodPost, valid[1], valid[2], valid[3], valid[4])
	f.Add(valid[0], valid[1], "lab", valid[3], valid[4])
	f.Add(valid[0], valid[1], valid[2], "2026-11-26T10:00:00+00:00", valid[4])
	f.Add(valid[0], valid[1], valid[2], valid[3], valid[4][:len(valid[4])-4]+"AAA=")
	f.Add("", "", "", "", "")
	f.Fuzz(func(t *testing.T, method, target, party, date, sig string) {
		// As net/http builds it: the URL parsed from the request target.
		u, err := url.ParseRequestURI(target)
		if err != nil {
			u = &url.URL{}
		}
		r := &http.Request{Method: method, RequestURI: target, URL: u, Header: http.Header{}}
		r.Header.Set(HeaderParty, party)
		r.Header.Set(HeaderDate, date)
		r.Header.Set(HeaderSignature, sig)
		got, err := fx.srv.authenticate(r)
		if err != nil && got != "" {
			t.Fatalf("authenticate = %q and error %v", got, err)
		}
		if got == "" {
			return
		}
		// Header.Set trims nothing and keeps the value as given.
		if [5]string{method, target, party, date, sig} != valid {
			t.Fatalf("authenticated %q for a request the seed did not sign: %q %q %q %q %q", got, method, target, party, date, sig)
		}
	})
}
