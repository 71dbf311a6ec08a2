package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/recon/store/pgtest"
)

// openPostgresDB opens a store on a new database of srv, closed when the
// test ends.
func openPostgresDB(t testing.TB, srv *pgtest.Server) *Postgres {
	t.Helper()
	url, err := srv.CreateDB(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return openPostgres(t, url)
}

// openPostgres opens a store on the database at url, as another instance
// would; it is closed when the test ends.
func openPostgres(t testing.TB, url string) *Postgres {
	t.Helper()
	s, err := OpenPostgres(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestReviewPostgresInstances has two stores on one database, as two serve
// instances, race to append after the same entry, round after round: each
// time exactly one wins and the other gets ErrAuditConflict, and the
// account's log is the chain of the winners.
func TestReviewPostgresInstances(t *testing.T) {
	ctx := t.Context()
	url, err := pg.Get(t).CreateDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inst := [2]*Postgres{openPostgres(t, url), openPostgres(t, url)}
	const rounds = 40
	var last uint64
	var won []AuditEntry
	for r := range rounds {
		var got [2]AuditEntry
		var errs [2]error
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, s := range inst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := AuditEntry{At: time.Unix(int64(r), 0), Reviewer: fmt.Sprintf("rev%d", i), Account: "alice",
					Match: fmt.Sprintf("%032x", r), Decision: Confirm}
				<-start
				got[i], errs[i] = s.AppendAudit(ctx, e, last)
			}()
		}
		close(start)
		wg.Wait()
		switch {
		case errs[0] == nil && errors.Is(errs[1], ErrAuditConflict):
			won = append(won, got[0])
		case errs[1] == nil && errors.Is(errs[0], ErrAuditConflict):
			won = append(won, got[1])
		default:
			t.Fatalf("round %d: errors %v, %v; want one nil and one ErrAuditConflict", r, errs[0], errs[1])
		}
		last = won[len(won)-1].Seq
	}
	for i, s := range inst {
		es, err := s.AccountAudit(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != rounds {
			t.Fatalf("instance %d reads %d entries, want %d", i, len(es), rounds)
		}
		for k := range es {
			if es[k] != won[k] {
				t.Fatalf("instance %d: entry %d is %+v, want %+v", i, k, es[k], won[k])
			}
		}
	}
}

// TestReviewPostgresAppendOnly checks that the database itself refuses to
// change or remove an entry, whatever the program does.
func TestReviewPostgresAppendOnly(t *testing.T) {
	ctx := t.Context()
	s := openPostgresDB(t, pg.Get(t))
	e, err := s.AppendAudit(ctx, AuditEntry{At: time.Unix(5, 0), Reviewer: "r", Account: "alice", Match: "m", Decision: Reject, Reason: "a cat"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"UPDATE review_audit SET decision = 'confirm', reason = ''",
		"DELETE FROM review_audit",
		"TRUNCATE review_audit",
	} {
		if _, err := s.pool.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only refusal", sql, err)
		}
	}
	// Nor may a row break the entry's rules or the chain.
	for _, sql := range []string{
		"INSERT INTO review_audit (account, prev_seq, at, reviewer, match, decision, reason) VALUES ('alice', 1, now(), 'r', '', 'confirm', '')",
		"INSERT INTO review_audit (account, prev_seq, at, reviewer, match, decision, reason) VALUES ('alice', 1, now(), 'r', 'm', 'maybe', '')",
		"INSERT INTO review_audit (account, prev_seq, at, reviewer, match, decision, reason) VALUES ('alice', 0, now(), 'r', '', 'report', '')",
	} {
		if _, err := s.pool.Exec(ctx, sql); err == nil {
			t.Errorf("%s was accepted", sql)
		}
	}
	es, err := s.AccountAudit(ctx, "alice")
	if err != nil || len(es) != 1 || es[0] != e {
		t.Fatalf("entries %+v %v, want %+v", es, err, e)
	}
}

// TestReviewPostgresTime checks what PostgreSQL makes of a time: UTC, to
// the microsecond, the same in the returned and the stored entry.
func TestReviewPostgresTime(t *testing.T) {
	ctx := t.Context()
	s := openPostgresDB(t, pg.Get(t))
	at := time.Date(2026, 12, 4, 11, 22, 33, 123456789, time.FixedZone("CET", 3600))
	e, err := s.AppendAudit(ctx, AuditEntry{At: at, Reviewer: "r", Account: "alice", Decision: Dismiss}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 12, 4, 10, 22, 33, 123456000, time.UTC)
	if e.At != want {
		t.Fatalf("returned time %v, want %v", e.At, want)
	}
	es, err := s.Audit(ctx, 0, 1)
	if err != nil || len(es) != 1 || es[0] != e {
		t.Fatalf("stored %+v %v, want %+v", es, err, e)
	}
}

// TestReviewPostgresNUL checks that a NUL byte, which bbolt would keep but
// PostgreSQL text cannot, is an invalid entry rather than a database error.
func TestReviewPostgresNUL(t *testing.T) {
	s := openPostgresDB(t, pg.Get(t))
	_, err := s.AppendAudit(t.Context(), AuditEntry{At: time.Unix(5, 0), Reviewer: "r", Account: "alice", Match: "m", Decision: Reject, Reason: "a\x00b"}, 0)
	if !errors.Is(err, ErrAuditEntry) || !strings.Contains(err.Error(), "reason") {
		t.Fatalf("reason with a NUL: %v, want ErrAuditEntry naming the reason", err)
	}
}

// TestReviewPostgresRestart crashes the server (pg_ctl restart -m
// immediate) while one reviewer appends decisions, each after the one
// before: no append may fail with a conflict (a try whose commit was lost
// on the way back is recognised on the retry), and every acknowledged entry
// is there after the crash, in order, and after reopening the store.
func TestReviewPostgresRestart(t *testing.T) {
	ctx := t.Context()
	srv := pg.Get(t)
	url, err := srv.CreateDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := openPostgres(t, url)
	const n = 60
	restarted := make(chan error, 1)
	restartErr, waited := error(nil), false
	waitRestart := func() error {
		if !waited {
			restartErr, waited = <-restarted, true
		}
		return restartErr
	}
	defer waitRestart() // a failing test leaves the shared server up for the next
	var acked []AuditEntry
	var last uint64
	unavailable := 0
	for i := range n {
		if i == n/3 {
			go func() { restarted <- srv.Restart() }()
		}
		e := AuditEntry{At: time.Unix(int64(i), 0), Reviewer: "rev1", Account: "alice", Match: fmt.Sprintf("%032x", i), Decision: Confirm}
		got, err := s.AppendAudit(ctx, e, last)
		switch {
		case err == nil:
			acked = append(acked, got)
			last = got.Seq
		case errors.Is(err, ErrUnavailable):
			// It may or may not have committed: once the server is back,
			// read where the log stands.
			unavailable++
			if err := waitRestart(); err != nil {
				t.Fatal(err)
			}
			es, err := s.AccountAudit(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if len(es) > 0 {
				last = es[len(es)-1].Seq
			}
		default:
			t.Fatalf("append %d during a restart: %v", i, err)
		}
	}
	if err := waitRestart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d appends acknowledged, %d unavailable, %d transactions retried", len(acked), unavailable, s.Retries())
	check := func(s *Postgres) {
		es, err := s.AccountAudit(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for _, e := range es {
			if k < len(acked) && e == acked[k] {
				k++
			}
		}
		if k != len(acked) || len(es) > n {
			t.Fatalf("%d of %d acknowledged entries stored in order; %d stored", k, len(acked), len(es))
		}
	}
	check(s)
	s.Close()
	check(openPostgres(t, url))
}

// BenchmarkAppendAuditPostgres is one decision on PostgreSQL: a checked
// append, committed (synchronous_commit on).
func BenchmarkAppendAuditPostgres(b *testing.B) {
	benchAppendAudit(b, openPostgresDB(b, pg.Get(b)))
}
