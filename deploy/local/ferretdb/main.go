// Command ferretdb-local runs FerretDB 1.x (SQLite backend) for local development and CI.
//
// It embeds FerretDB through its public package github.com/FerretDB/FerretDB/ferretdb instead of
// building upstream's cmd/ferretdb: that command panics at start when built from the module zip,
// because build/version/version.txt is git-ignored upstream and therefore missing (upstream issue
// #2982). The embeddable package skips that check, since the main module is not FerretDB's.
//
// Configuration comes from flags; each flag falls back to an environment variable:
//
//	-listen-addr  FERRETDB_LISTEN_ADDR  (default 127.0.0.1:27017)
//	-sqlite-dir   FERRETDB_SQLITE_DIR   (required; created if missing)
//	-log-level    FERRETDB_LOG_LEVEL    (debug|info|warn|error, default info)
//
// It runs until SIGTERM or SIGINT, then closes the listener, all client connections and the
// SQLite databases before exiting with status 0.
//
// Build: deploy/local/infra.py runs `go build -trimpath` here with GOFLAGS=-mod=readonly, so
// go.sum is authoritative and no checksum-database lookup happens. When dependencies change
// (`go get`, `go mod tidy`), no special setting is needed on machines that reach only the
// package registries: sum.golang.org itself is unreachable, but the go command reaches the
// checksum database through the module proxy (proxy.golang.org/sumdb/sum.golang.org/...).
// So do not set GOSUMDB=off, GONOSUMDB or GOPRIVATE to "fix" a checksum error.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(strings.ToUpper(s)))
	return l, err
}

func run() error {
	listenAddr := flag.String("listen-addr", envOr("FERRETDB_LISTEN_ADDR", "127.0.0.1:27017"),
		"TCP address to listen on")
	sqliteDir := flag.String("sqlite-dir", envOr("FERRETDB_SQLITE_DIR", ""),
		"directory holding one SQLite file per database")
	logLevel := flag.String("log-level", envOr("FERRETDB_LOG_LEVEL", "info"),
		"log level: debug, info, warn or error")
	flag.Parse()

	if *sqliteDir == "" {
		return fmt.Errorf("-sqlite-dir (or FERRETDB_SQLITE_DIR) is required")
	}

	level, err := parseLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("bad -log-level %q: %w", *logLevel, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	dir, err := filepath.Abs(*sqliteDir)
	if err != nil {
		return err
	}
	if err = os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	// FerretDB's SQLite handler wants a "file:" URI naming an existing directory, with a
	// trailing slash; it keeps one <database>.sqlite file per MongoDB database in it.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listenAddr},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Printed regardless of -log-level so the log file always shows what was started.
	fmt.Fprintf(os.Stderr, "ferretdb-local: listening on %s, sqlite dir %s\n", *listenAddr, dir)

	// Run returns once ctx is cancelled and the listener, connections and backend are closed.
	if err = f.Run(ctx); err != nil {
		return err
	}

	fmt.Fprintln(os.Stderr, "ferretdb-local: stopped")
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-local:", err)
		os.Exit(1)
	}
}
