package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestPostgresRestartDuringAdds crashes the server (pg_ctl restart -m
// immediate) while writers add vouchers: every Add must end in success
// (retried over the lost connection) or ErrUnavailable, never another
// error, and the stored counts must be exactly the distinct ids of the Adds
// that succeeded, each answered "added" at most once.
func TestPostgresRestartDuringAdds(t *testing.T) {
	srv := pg.Get(t)
	url, err := srv.CreateDB(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenPostgres(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const writers, perWriter = 4, 60
	var mu sync.Mutex
	addedBy := map[[16]byte]int{}
	okIDs := map[[16]byte]bool{}
	unavailable := 0
	restarted := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if w == 0 && i == perWriter/3 {
					// Writer 0 crashes the server a third of the way in,
					// while the other writers are mid-transaction.
					if err := srv.Restart(); err != nil {
						t.Error(err)
					}
					close(restarted)
				}
				// Neighbouring writers overlap by half their ids.
				items := []Item{{ID: id(w*perWriter/2 + i), Kind: NonMatch}, {ID: id(1000 + w*perWriter + i), Kind: Match, Share: [8]byte{1}, Record: []byte("r")}}
				st, err := s.Add(t.Context(), "acct", items)
				mu.Lock()
				switch {
				case err == nil:
					for k, x := range st {
						okIDs[items[k].ID] = true
						if x == Added {
							addedBy[items[k].ID]++
						}
					}
				case errors.Is(err, ErrUnavailable):
					unavailable++
				default:
					t.Errorf("Add during a restart: %v", err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	<-restarted
	if !strings.Contains(srv.Log(), "database system was interrupted") && !strings.Contains(srv.Log(), "not properly shut down") {
		t.Logf("server log:\n%s", srv.Log())
		t.Error("the server log shows no crash recovery")
	}
	for id, n := range addedBy {
		if n > 1 {
			t.Errorf("id %x answered added %d times", id, n)
		}
	}
	c, _, err := s.Counts(t.Context(), "acct")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.Records(t.Context(), "acct")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d distinct ids acknowledged, %d Adds unavailable, %d transactions retried; stored %+v, %d records", len(okIDs), unavailable, s.Retries(), c, len(recs))
	if s.Retries() == 0 {
		t.Error("no transaction was retried: the restart interrupted nothing")
	}
	// An unavailable Add may have committed: only with none is the count exact.
	if unavailable == 0 && c.Vouchers != uint64(len(okIDs)) {
		t.Errorf("%d vouchers stored, %d acknowledged", c.Vouchers, len(okIDs))
	}
	if c.Vouchers < uint64(len(okIDs)) || c.Vouchers != c.NonMatches+c.Matches || uint64(len(recs)) != c.Matches {
		t.Errorf("counts %+v with %d records, %d acknowledged ids", c, len(recs), len(okIDs))
	}
	if want := fmt.Sprint(writers*perWriter/2 + perWriter/2 + writers*perWriter); unavailable == 0 && fmt.Sprint(c.Vouchers) != want {
		t.Errorf("%d vouchers, want %s", c.Vouchers, want)
	}
}

// TestPostgresSchemaVersion checks that instances opening one database
// together apply the migrations once, and that a database migrated by a
// newer program is refused.
func TestPostgresSchemaVersion(t *testing.T) {
	srv := pg.Get(t)
	url, err := srv.CreateDB(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stores := make([]*Postgres, 3)
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := OpenPostgres(t.Context(), url, nil)
			if err != nil {
				t.Error(err)
				return
			}
			stores[i] = s
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var n int
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	if err := stores[0].pool.QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(names) {
		t.Fatalf("%d migrations recorded, %v", n, err)
	}
	if _, err := stores[0].pool.Exec(t.Context(), "INSERT INTO schema_migrations (version) VALUES (99)"); err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		s.Close()
	}
	if _, err := OpenPostgres(t.Context(), url, nil); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("opening a newer schema: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h:5432/db?sslmode=require": "postgres://u@h:5432/db?sslmode=require",
		"postgres:///db?host=/tmp&password=secret":      "postgres:///db?host=/tmp&redacted=xxx",
		"postgresql://u:p@ss@h/db":                      "postgresql://u@ss@h/db",
		"postgres://:?password=@h":                      "postgres://@h",
		"mysql://u:secret@h":                            "(not a postgres:// URL)",
		"postgres://h/db":                               "postgres://h/db",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRedactURL checks that the password pgx would use from a URL never
// survives redaction.
func FuzzRedactURL(f *testing.F) {
	f.Add("postgres://u:pw@h/db", "pw")
	f.Add("postgres:///db?password=pw", "pw")
	f.Fuzz(func(t *testing.T, prefix, pw string) {
		for _, u := range []string{"postgres://u:" + pw + "@" + prefix, "postgres://" + prefix + "?password=" + pw, prefix} {
			cfg, err := pgconn.ParseConfig(u)
			if err != nil || len(cfg.Password) < 4 || strings.Count(u, cfg.Password) != 1 {
				continue // no password, or one that is also a host name or a path
			}
			if got := RedactURL(u); strings.Contains(got, cfg.Password) {
				t.Fatalf("RedactURL(%q) = %q keeps the password %q", u, got, cfg.Password)
			}
		}
	})
}

// TestPostgresEnvironment opens the store from a bare postgres:// URL with
// the server, user and database in the PG* environment, as libpq would.
func TestPostgresEnvironment(t *testing.T) {
	srv := pg.Get(t)
	u, err := srv.CreateDB(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	pu, err := neturl.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGHOST", srv.Dir())
	t.Setenv("PGPORT", strconv.Itoa(srv.Port()))
	t.Setenv("PGUSER", "postgres")
	t.Setenv("PGDATABASE", strings.TrimPrefix(pu.Path, "/"))
	s, err := OpenPostgres(t.Context(), "postgres://", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Add(t.Context(), "env", []Item{{ID: id(1), Kind: NonMatch}}); err != nil {
		t.Fatal(err)
	}
	// The same database through the full URL.
	s2, err := OpenPostgres(t.Context(), u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if c, ok, err := s2.Counts(t.Context(), "env"); !ok || err != nil || c.Vouchers != 1 {
		t.Fatalf("%+v %v %v", c, ok, err)
	}
	// A bad URL is refused without repeating its password.
	if _, err := OpenPostgres(t.Context(), "postgres://u:secret@%zz/db", nil); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("a bad URL: %v", err)
	}
}

// TestPostgresLocksLeaveConnections takes many accounts' locks at once on a
// two-connection pool, each holder querying under its lock, and waiters on a
// held lock: waiting pins no connection and holders never take the whole
// pool, so every caller finishes.
func TestPostgresLocksLeaveConnections(t *testing.T) {
	srv := pg.Get(t)
	url, err := srv.CreateDB(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenPostgres(t.Context(), url, &PostgresOptions{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Bounded only so that a regression fails instead of hanging.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acct := fmt.Sprint("acct", i%3) // some share an account: they wait
			unlock, ok, err := s.LockAccount(ctx, acct, true)
			if err != nil || !ok {
				t.Error(ok, err)
				return
			}
			defer unlock()
			if _, err := s.Add(ctx, acct, []Item{{ID: id(i), Kind: NonMatch}}); err != nil {
				t.Error(err)
			}
			if err := s.SetReveal(ctx, acct, []byte("x")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	tot, err := s.Totals(ctx)
	if err != nil || tot.Vouchers != 8 {
		t.Fatalf("%+v %v", tot, err)
	}
}
