package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/time/rate"

	"github.com/custos-ledger/custos/cmd/custos/server"
	"github.com/custos-ledger/custos/verify"
)

// shutdownGrace is how long SIGTERM waits for requests in flight (appends
// waiting for their commit) before the ledger is closed anyway; an append
// the sequencer took is answered either way (ledger.Log.Append).
const shutdownGrace = 30 * time.Second

func (e *env) serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the ledger over HTTP: submissions, C2SP tiles, proofs, authenticated reads, metrics; collect witness cosignatures",
		UsageText: "custos serve --ledger DIR [--listen 127.0.0.1:8443] [--tls-cert C --tls-key K]\n" +
			"             [--witness-policy trust.policy --witness-url NAME=URL ...]\n\n" +
			"The log key's password comes from CUSTOS_LOG_PASSWORD (or CUSTOS_PASSWORD). SIGTERM or SIGINT stops\n" +
			"accepting, lets submissions in flight finish and closes the ledger.",
		Flags: []cli.Flag{ledgerFlag(),
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8443", Usage: "address to listen on"},
			&cli.StringFlag{Name: "tls-cert", Usage: "TLS certificate (PEM); with --tls-key, serve HTTPS"},
			&cli.StringFlag{Name: "tls-key", Usage: "TLS private key (PEM)"},
			&cli.StringFlag{Name: "witness-policy", Usage: "trust policy (custos trust init) naming the witnesses to collect cosignatures from and the quorum"},
			&cli.StringSliceFlag{Name: "witness-url", Usage: "NAME=URL: where the policy's witness NAME listens (repeatable)"},
			&cli.Float64Flag{Name: "rate", Value: float64(server.DefaultRate), Usage: "requests per second per client (party or address)"},
			&cli.IntFlag{Name: "burst", Value: server.DefaultBurst, Usage: "burst per client"}},
		Action: e.serve,
	}
}

func (e *env) serve(c *cli.Context) error {
	d, err := ledgerNoArgs(c)
	if err != nil {
		return err
	}
	certFile, keyFile := c.String("tls-cert"), c.String("tls-key")
	if (certFile == "") != (keyFile == "") {
		return usagef("serve: --tls-cert and --tls-key go together")
	}
	cfg := server.Config{Dir: string(d), Rate: rate.Limit(c.Float64("rate")), Burst: c.Int("burst"),
		Logger: slog.New(slog.NewJSONHandler(e.stderr, nil))}
	if p := c.String("witness-policy"); p != "" {
		b, err := readFileCapped(p, maxInputFile)
		if err != nil {
			return err
		}
		if cfg.Policy, err = verify.ParsePolicy(b); err != nil {
			return err
		}
	}
	for _, wu := range c.StringSlice("witness-url") {
		name, url, ok := strings.Cut(wu, "=")
		if !ok || name == "" || !(strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://")) {
			return usagef("serve: --witness-url %q: want NAME=http(s)://HOST[:PORT][/PATH]", wu)
		}
		cfg.Witnesses = append(cfg.Witnesses, server.WitnessEndpoint{Name: name, URL: url})
	}
	if len(cfg.Witnesses) > 0 && cfg.Policy == nil {
		return usagef("serve: --witness-url needs --witness-policy")
	}
	var tlsCert tls.Certificate
	if certFile != "" {
		if tlsCert, err = tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			return usagef("serve: loading --tls-cert and --tls-key: %v", err)
		}
	}

	l, err := d.openWrite(e.pw)
	if err != nil {
		return err
	}
	cfg.Log = l
	srv, err := server.New(cfg)
	if err != nil {
		l.Close()
		return usagef("serve: %v", err)
	}
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		srv.Close()
		l.Close()
		return err
	}
	hs := srv.HTTPServer(ln.Addr().String())
	scheme := "http"
	if certFile != "" {
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{tlsCert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, hs.TLSConfig)
		scheme = "https"
	}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	_, size := l.Checkpoint()
	cfg.Logger.Info("serving", slog.String("url", scheme+"://"+ln.Addr().String()), slog.String("origin", l.Origin()),
		slog.Int64("size", size), slog.Int("witnesses", len(cfg.Witnesses)))
	fmt.Fprintf(e.stdout, "serving %s at %s://%s\n", l.Origin(), scheme, ln.Addr())

	var serveErr error
	select {
	case <-ctx.Done():
		cfg.Logger.Info("shutting down: no new connections; waiting for requests in flight")
	case serveErr = <-served:
	}
	// Stop accepting and let handlers (appends waiting for their group
	// commit) finish; then stop witness collection; then close the ledger,
	// which writes the final checkpoint file. Nothing is half-written: a
	// commit is one store transaction.
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		cfg.Logger.Warn("requests still in flight after the grace period", slog.String("error", err.Error()))
	}
	srv.Close()
	closeErr := l.Close()
	_, size = l.Checkpoint()
	cfg.Logger.Info("stopped", slog.Int64("size", size))
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return closeErr
}
