// Command ferretdb-local runs FerretDB 1.x (SQLite backend) for local development and CI.
//
// It embeds FerretDB through its public package github.com/FerretDB/FerretDB/ferretdb instead of
// building upstream's cmd/ferretdb: that command panics at start when built from the module zip,
// because build/version/version.txt is git-ignored upstream and therefore missing (upstream issue
// #2982). The embeddable package skips that check, since the main module is not FerretDB's.
//
// Configuration comes from flags; each flag falls back to an environment variable:
//
//	-listen-addr         FERRETDB_LISTEN_ADDR         (default 127.0.0.1:27017)
//	-sqlite-dir          FERRETDB_SQLITE_DIR          (required; created if missing)
//	-log-level           FERRETDB_LOG_LEVEL           (debug|info|warn|error, default info)
//	-sqlite-synchronous  FERRETDB_SQLITE_SYNCHRONOUS  (off|normal|full|extra|default;
//	                                                   default normal)
//	-id-index-interval   FERRETDB_ID_INDEX_INTERVAL   (Go duration, default 300ms; 0 disables)
//
// Two things are added to plain FerretDB, both for speed and neither changing what clients see:
//
//   - PRAGMA synchronous. FerretDB opens every SQLite file in WAL mode with SQLite's default
//     synchronous=FULL, an fsync per commit. In WAL mode NORMAL is still safe against a crash of
//     this process (a commit is in the WAL before the call returns); only an OS crash or power
//     loss can lose the last commits, never corrupt the file. Inserts are about 3x faster. It is
//     passed as `_pragma=synchronous(...)` in the SQLite URL, which FerretDB merges with its own
//     defaults (busy_timeout(10000), journal_mode(wal), auto_vacuum(none)); "default" passes
//     nothing and leaves SQLite's FULL.
//
//   - An index on the exact expression FerretDB queries _id with. FerretDB 1.24's SQLite backend
//     finds, updates and deletes by _id with `WHERE _ferretdb_sjson->'$._id' = ?` (and `IN
//     (...)`), but builds its unique _id index on `_ferretdb_sjson->"_id"`. SQLite uses an
//     expression index only for the identical expression, so every update/replace/delete by _id
//     and every find of exactly {_id: <string or ObjectId>} scans the whole table (34 ms per
//     update at 20,000 documents). A background loop (see idIndexer) gives every collection table
//     an index `<table>_ferretdb_id_path` on `_ferretdb_sjson->'$._id'`. FerretDB does not know
//     about it: listIndexes does not show it (FerretDB lists its own metadata), dropping the
//     collection or database drops it with the table, and renames keep the table.
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
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	// The SQLite driver FerretDB itself uses (same module and version, registered as "sqlite");
	// FerretDB already imports it, this only makes the dependency of idIndexer explicit.
	_ "modernc.org/sqlite"
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

// sqliteURL is what FerretDB gets: a "file:" URI naming an existing directory, with a trailing
// slash (it keeps one <database>.sqlite file per MongoDB database in it), plus our pragmas.
func sqliteURL(dir, synchronous string) (string, error) {
	u := "file:" + dir + "/"
	switch strings.ToLower(synchronous) {
	case "default":
		return u, nil
	case "off", "normal", "full", "extra":
		return u + "?" + url.Values{"_pragma": {"synchronous(" + strings.ToLower(synchronous) + ")"}}.Encode(), nil
	default:
		return "", fmt.Errorf("bad -sqlite-synchronous %q: want off, normal, full, extra or default", synchronous)
	}
}

func run() error {
	listenAddr := flag.String("listen-addr", envOr("FERRETDB_LISTEN_ADDR", "127.0.0.1:27017"),
		"TCP address to listen on")
	sqliteDir := flag.String("sqlite-dir", envOr("FERRETDB_SQLITE_DIR", ""),
		"directory holding one SQLite file per database")
	logLevel := flag.String("log-level", envOr("FERRETDB_LOG_LEVEL", "info"),
		"log level: debug, info, warn or error")
	synchronous := flag.String("sqlite-synchronous", envOr("FERRETDB_SQLITE_SYNCHRONOUS", "normal"),
		"PRAGMA synchronous for every SQLite file: off, normal, full, extra, or default (SQLite's, FULL)")
	idIndexEvery := flag.String("id-index-interval", envOr("FERRETDB_ID_INDEX_INTERVAL", "300ms"),
		"how often to give new collection tables the index on _ferretdb_sjson->'$._id'; 0 disables")
	flag.Parse()

	if *sqliteDir == "" {
		return fmt.Errorf("-sqlite-dir (or FERRETDB_SQLITE_DIR) is required")
	}

	level, err := parseLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("bad -log-level %q: %w", *logLevel, err)
	}
	every, err := time.ParseDuration(*idIndexEvery)
	if err != nil || every < 0 {
		return fmt.Errorf("bad -id-index-interval %q: want a Go duration such as 300ms, or 0", *idIndexEvery)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	dir, err := filepath.Abs(*sqliteDir)
	if err != nil {
		return err
	}
	if err = os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	u, err := sqliteURL(dir, *synchronous)
	if err != nil {
		return err
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listenAddr},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: u,
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Printed regardless of -log-level so the log file always shows what was started.
	fmt.Fprintf(os.Stderr, "ferretdb-local: listening on %s, sqlite dir %s, synchronous %s, _id index every %s\n",
		*listenAddr, dir, strings.ToLower(*synchronous), every)

	var wg sync.WaitGroup
	if every > 0 {
		// The wrapper's own messages are rare (one per new collection) and are what one looks
		// for when a query is slow, so they are logged at info even under -log-level=warn.
		ours := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: min(level, slog.LevelInfo)}))
		ix := newIDIndexer(dir, ours.With(slog.String("name", "ferretdb-local/id-index")))
		wg.Add(1)
		go func() {
			defer wg.Done()
			ix.loop(ctx, every)
		}()
	}

	// Run returns once ctx is cancelled and the listener, connections and backend are closed.
	err = f.Run(ctx)
	stop()
	wg.Wait()
	if err != nil {
		return err
	}

	fmt.Fprintln(os.Stderr, "ferretdb-local: stopped")
	return nil
}

// idIndexSuffix names our index: "<table>" + idIndexSuffix. FerretDB names its own indexes
// "<table>_<mongo index name>", so only a user index literally named "ferretdb_id_path" could
// collide (its creation would then fail with "index already exists").
const idIndexSuffix = "_ferretdb_id_path"

// missingIDIndexes lists the collection tables of one FerretDB database file that lack our index.
// FerretDB's tables in a file are its metadata table _ferretdb_collections (one row per
// collection, column table_name) and one table per collection with the column _ferretdb_sjson.
// sqlite_schema is read rather than _ferretdb_collections because FerretDB creates a new file
// before that table, and a collection's table before its row.
const missingIDIndexes = `
SELECT t.name FROM sqlite_schema AS t
WHERE t.type = 'table'
  AND t.name NOT LIKE 'sqlite\_%' ESCAPE '\'
  AND t.name <> '_ferretdb_collections'
  AND t.sql LIKE '%_ferretdb_sjson%'
  AND NOT EXISTS (
    SELECT 1 FROM sqlite_schema AS i
    WHERE i.type = 'index' AND i.tbl_name = t.name AND i.name = t.name || '` + idIndexSuffix + `')`

// fullCheckEvery bounds how long a file whose size and mtime look unchanged goes unchecked.
const fullCheckEvery = 10 * time.Second

// fileSig is what os.Stat says about a database file and its WAL; FerretDB's CREATE TABLE
// appends to the WAL, so an unchanged signature means no new table (see fullCheckEvery).
type fileSig struct {
	dbSize, walSize   int64
	dbMtime, walMtime time.Time
}

func statSig(path string) (fileSig, error) {
	var s fileSig
	fi, err := os.Stat(path)
	if err != nil {
		return s, err
	}
	s.dbSize, s.dbMtime = fi.Size(), fi.ModTime()
	if wi, err := os.Stat(path + "-wal"); err == nil {
		s.walSize, s.walMtime = wi.Size(), wi.ModTime()
	}
	return s, nil
}

type checked struct {
	sig fileSig
	at  time.Time
}

// idIndexer keeps every collection table in dir indexed on _ferretdb_sjson->'$._id'.
//
// Each pass opens each changed *.sqlite file with its own short-lived connection, runs one query
// for tables missing the index, creates those, and closes the connection. It holds no handle
// between passes, because an open SQLite connection in WAL mode keeps a shared lock on the file:
// were one open while FerretDB drops the database (close, then unlink the file), FerretDB's last
// close could not checkpoint and remove the -wal and -shm files, which would then stay behind
// (harmless: FerretDB lists only *.sqlite, and SQLite discards a WAL found next to an empty new
// database file). Our own close never touches the files of a database that was unlinked and
// recreated meanwhile: SQLite checks the file is unmoved before it checkpoints or deletes.
// Errors are logged once per file and distinct message, and retried on the next pass.
type idIndexer struct {
	dir  string
	l    *slog.Logger
	seen map[string]checked // file -> signature when it last had every index
	errs map[string]string  // file ("" for the directory) -> last error logged
}

func newIDIndexer(dir string, l *slog.Logger) *idIndexer {
	return &idIndexer{dir: dir, l: l, seen: map[string]checked{}, errs: map[string]string{}}
}

func (ix *idIndexer) loop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ix.pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// report logs err for key unless it is the error last logged for key; nil clears it.
func (ix *idIndexer) report(key string, err error) {
	if err == nil {
		if prev, ok := ix.errs[key]; ok {
			delete(ix.errs, key)
			ix.l.Info("recovered", slog.String("file", key), slog.String("previous_error", prev))
		}
		return
	}
	if ix.errs[key] == err.Error() {
		return
	}
	ix.errs[key] = err.Error()
	ix.l.Warn("will retry on the next pass", slog.String("file", key), slog.String("error", err.Error()))
}

func (ix *idIndexer) pass(ctx context.Context) {
	defer func() {
		// Never take the server down: a panic here (a driver bug, say) ends this pass only.
		if r := recover(); r != nil {
			ix.report("", fmt.Errorf("panic: %v", r))
		}
	}()

	files, err := filepath.Glob(filepath.Join(ix.dir, "*.sqlite"))
	ix.report("", err)
	if err != nil {
		return
	}

	present := make(map[string]bool, len(files))
	now := time.Now()
	for _, path := range files {
		if ctx.Err() != nil {
			return
		}
		present[path] = true
		sig, err := statSig(path)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) { // else dropped since the glob
				ix.report(path, err)
			}
			continue
		}
		if c, ok := ix.seen[path]; ok && c.sig == sig && now.Sub(c.at) < fullCheckEvery {
			continue
		}
		err = ix.indexFile(ctx, path)
		if err != nil && ctx.Err() != nil {
			return
		}
		if _, statErr := os.Stat(path); errors.Is(statErr, fs.ErrNotExist) {
			err = nil // the database was dropped while we looked at it
		}
		ix.report(path, err)
		if err == nil {
			ix.seen[path] = checked{sig: sig, at: now}
		} else {
			delete(ix.seen, path)
		}
	}

	for path := range ix.seen {
		if !present[path] {
			delete(ix.seen, path)
		}
	}
	for key := range ix.errs {
		if key != "" && !present[key] {
			delete(ix.errs, key)
		}
	}
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// indexFile creates our index on every table of one database file that lacks it.
func (ix *idIndexer) indexFile(ctx context.Context, path string) error {
	// mode=rw: never create a file FerretDB has just dropped. No journal_mode: the file is
	// FerretDB's and already in WAL mode. busy_timeout: wait for FerretDB's writes, which in
	// turn wait up to their own 10 s for our CREATE INDEX.
	dsn := (&url.URL{
		Scheme:   "file",
		Path:     path,
		RawQuery: url.Values{"mode": {"rw"}, "_pragma": {"busy_timeout(5000)"}}.Encode(),
	}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	rows, err := db.QueryContext(ctx, missingIDIndexes)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err = rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err = rows.Err(); err != nil {
		return err
	}

	for _, table := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (_ferretdb_sjson->'$._id')`,
			quoteIdent(table+idIndexSuffix), quoteIdent(table))
		start := time.Now()
		if _, err = db.ExecContext(ctx, q); err != nil {
			if strings.Contains(err.Error(), "no such table") {
				continue // the collection was dropped since the query
			}
			return fmt.Errorf("%s: %w", table, err)
		}
		ix.l.Info("indexed _ferretdb_sjson->'$._id'", slog.String("file", filepath.Base(path)),
			slog.String("table", table), slog.Duration("took", time.Since(start)))
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-local:", err)
		os.Exit(1)
	}
}
