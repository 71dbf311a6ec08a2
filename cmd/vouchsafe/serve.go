package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/recon/service"
	"github.com/vouchsafe/vouchsafe/internal/recon/store"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
)

func init() {
	register(command{name: "serve", usage: "run the reconstructor service: voucher ingestion API, durable store, scheduled reveal", run: runServe})
}

func runServe(env *cliEnv, args []string) int {
	fs := newFlagSet(env, "serve", "--store FILE --key server.key [--key ...] --tokens FILE [flags] (--store postgres://... for PostgreSQL)")
	listen := fs.String("listen", "127.0.0.1:8080", "listen `address`")
	storePath := fs.String("store", "", "store: a bbolt `file` (created if missing; one process at a time) or a postgres:// URL shared by many instances (PGHOST, PGUSER, PGPASSWORD, … fill in what it leaves out)")
	var keys listFlag
	fs.Var(&keys, "key", "server key `file` of one table epoch (mode 0600); repeat for several epochs")
	tokens := fs.String("tokens", "", "tokens `file` (mode 0600): lines NAME ROLE TOKEN [ACCOUNT...]")
	interval := fs.Duration("reveal-interval", 24*time.Hour, "reveal every changed account this often (0: only on request)")
	maxBody := fs.Int64("max-body", service.DefaultMaxBody, "largest request body in `bytes`")
	maxBatch := fs.Int("max-batch", service.DefaultMaxBatch, "most vouchers in one upload")
	rate := fs.Float64("rate", 20, "requests per second allowed per client (0: no limit)")
	burst := fs.Int("burst", 40, "requests a client may send at once before --rate applies")
	workers := fs.Int("workers", 0, "goroutines matching one upload (default GOMAXPROCS)")
	secondHash := fs.String("second-hash", "", "check every revealed visual derivative against this PDQ list `file` (db second-hash)")
	secondT := fs.Int("second-hash-threshold", -1, "largest PDQ distance that confirms (default 31)")
	addrFile := fs.String("addr-file", "", "write the bound address to `file` once listening")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate `file` (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "private key `file` of --tls-cert")
	quorum := fs.Int("review-quorum", 1, "different reviewers who must confirm a match before the account can be reported (1 to 16)")
	sessionTTL := fs.Duration("review-session", service.DefaultSessionTTL, "how long a reviewer's console session lasts")
	grace := fs.Duration("shutdown-timeout", 30*time.Second, "how long in-flight requests may take to finish on shutdown")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	if st, ok := missingFlags(env, "serve", fs, "store", "key", "tokens"); !ok {
		return st
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return fail(env, "serve", errors.New("--tls-cert and --tls-key go together"))
	}
	if *quorum < 1 || *quorum > 16 || *sessionTTL <= 0 {
		return fail(env, "serve", errors.New("--review-quorum must be 1 to 16 and --review-session positive"))
	}
	if *interval < 0 || *maxBody <= 0 || *maxBatch <= 0 || *rate < 0 || (*rate > 0 && *burst < 1) {
		return fail(env, "serve", errors.New("--reveal-interval, --max-body, --max-batch, --rate and --burst must be positive"))
	}
	srv, err := service.LoadKeys(keys)
	if err != nil {
		return fail(env, "serve", err)
	}
	toks, err := service.LoadTokens(*tokens)
	if err != nil {
		return fail(env, "serve", err)
	}
	log := slog.New(slog.NewTextHandler(env.stderr, nil))
	cfg := service.Config{
		Server: srv, Tokens: toks, MaxBody: *maxBody, MaxBatch: *maxBatch,
		Rate: *rate, Burst: *burst, Workers: *workers, Logger: log,
		ReviewQuorum: *quorum, SessionTTL: *sessionTTL,
	}
	if *secondHash != "" {
		list, err := loadSecondHash(*secondHash, *secondT)
		if err != nil {
			return fail(env, "serve", err)
		}
		cfg.SecondHash = list
	}
	st, storeName, err := openStore(*storePath)
	if err != nil {
		return fail(env, "serve", err)
	}
	cfg.Store = st
	svc, err := service.New(cfg)
	if err != nil {
		st.Close()
		return fail(env, "serve", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		st.Close()
		return fail(env, "serve", err)
	}
	addr := ln.Addr().String()
	if *addrFile != "" {
		// Written whole then renamed, so a reader never sees half an address.
		if err := safeio.WriteFile(*addrFile, []byte(addr+"\n"), 0o644); err != nil {
			ln.Close()
			st.Close()
			return fail(env, "serve", err)
		}
	}
	p := svc.Params()
	log.Info("listening", "addr", addr, "epochs", len(keys), "t", p.T, "s", p.S, "clients", toks.Len(), "store", storeName, "reveal_interval", *interval)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := &http.Server{
		Handler:           svc,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		if *interval > 0 {
			svc.RunScheduler(ctx, *interval)
		}
	}()
	served := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			served <- hs.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			served <- hs.Serve(ln)
		}
	}()
	status := 0
	select {
	case err := <-served:
		// The listener failed before any signal.
		log.Error("serve", "err", err)
		status = 1
		stop()
	case <-ctx.Done():
		log.Info("shutting down: finishing in-flight requests")
		sctx, cancel := context.WithTimeout(context.Background(), *grace)
		if err := hs.Shutdown(sctx); err != nil {
			log.Error("shutdown", "err", err)
			status = 1
		}
		cancel()
	}
	<-schedDone
	if err := st.Close(); err != nil {
		return fail(env, "serve", fmt.Errorf("closing the store: %w", err))
	}
	log.Info("stopped")
	return status
}

// openStore opens a bbolt file, or a PostgreSQL database for a postgres://
// URL; the name it returns is fit for the log (no password).
func openStore(arg string) (store.Store, string, error) {
	if store.IsPostgresURL(arg) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := store.OpenPostgres(ctx, arg, nil)
		return st, store.RedactURL(arg), err
	}
	st, err := store.Open(arg, nil)
	return st, arg, err
}
