package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/custos-ledger/custos/verify/witness"
)

// Timeouts of witness serve's HTTP server. An add-checkpoint request is a
// few kilobytes and one fsync'd file write; anything slower is a client
// holding a connection open.
const (
	serveReadHeaderTimeout = 5 * time.Second
	serveReadTimeout       = 15 * time.Second
	serveWriteTimeout      = 15 * time.Second
	serveIdleTimeout       = 60 * time.Second
	serveShutdownTimeout   = 10 * time.Second
	serveMaxHeaderBytes    = 16 << 10
)

func (e *env) witnessServeCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve C2SP tlog-witness add-checkpoint over HTTP(S) until SIGINT or SIGTERM",
		UsageText: "custos witness serve --state DIR [--listen 127.0.0.1:9443] [--tls-cert FILE --tls-key FILE]\n" +
			"  [--log-key FILE ...] [--json]\n\n" +
			"Logs POST /add-checkpoint (https://c2sp.org/tlog-witness) with an old size, a consistency proof\n" +
			"and their signed checkpoint; the witness answers with its cosignature line, or 409 with the size\n" +
			"it cosigned last. --log-key registers a log's verifier key (custos checkpoint --vkey) before\n" +
			"serving; keys registered before are remembered. Logs go to stderr (JSON lines with --json).",
		Flags: []cli.Flag{jsonFlag(),
			&cli.StringFlag{Name: "state", Usage: "the witness's state directory (witness init --out)"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:9443", Usage: "address to listen on (port 0: any free port)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "PEM certificate chain file, to serve HTTPS (with --tls-key)"},
			&cli.StringFlag{Name: "tls-key", Usage: "PEM private key file of --tls-cert"},
			&cli.StringSliceFlag{Name: "log-key", Usage: "file holding a log's verifier key to register (repeatable)"}},
		Action: e.witnessServe,
	}
}

func (e *env) witnessServe(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	state, addr := c.String("state"), c.String("listen")
	certFile, keyFile := c.String("tls-cert"), c.String("tls-key")
	if state == "" {
		return usagef("witness serve: --state DIR is required")
	}
	if (certFile == "") != (keyFile == "") {
		return usagef("witness serve: --tls-cert and --tls-key go together")
	}
	var logKeys []string
	for _, f := range c.StringSlice("log-key") {
		b, err := readFileCapped(f, maxKeyLine)
		if err != nil {
			return err
		}
		logKeys = append(logKeys, string(b))
	}
	var tlsConfig *tls.Config
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return usagef("witness serve: TLS certificate %s and key %s: %v", certFile, keyFile, err)
		}
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}

	var h slog.Handler = slog.NewTextHandler(e.stderr, nil)
	if c.Bool("json") {
		h = slog.NewJSONHandler(e.stderr, nil)
	}
	log := slog.New(h)

	w, err := e.openWitness(state)
	if err != nil {
		return err
	}
	defer w.Close()
	for _, k := range logKeys {
		if err := w.AddLog(k); errors.Is(err, witness.ErrLogKeyChanged) {
			return usagef("witness serve: %v", err)
		} else if err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("witness serve: %w", err)
	}
	srv := &http.Server{
		Handler:           witness.NewHandler(w, log),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: serveReadHeaderTimeout,
		ReadTimeout:       serveReadTimeout,
		WriteTimeout:      serveWriteTimeout,
		IdleTimeout:       serveIdleTimeout,
		MaxHeaderBytes:    serveMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(h, slog.LevelWarn),
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	log.Info("witness serving", slog.String("name", w.Name()), slog.String("vkey", w.VKey()),
		slog.String("url", scheme+"://"+ln.Addr().String()), slog.String("state", state))

	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("witness serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("witness shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), serveShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		log.Warn("witness shutdown: closed connections still open", slog.Any("error", err))
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("witness serve: %w", err)
	}
	log.Info("witness stopped")
	return nil
}
