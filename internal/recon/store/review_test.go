package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testReviewStore runs the ReviewStore tests against a backend; fresh
// returns an empty store of that backend.
func testReviewStore(t *testing.T, fresh func(t *testing.T) ReviewStore) {
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	entry := func(acct, match string, d Decision, reason string) AuditEntry {
		at = at.Add(time.Second)
		return AuditEntry{At: at, Reviewer: "rev1", Account: acct, Match: match, Decision: d, Reason: reason}
	}

	t.Run("AppendAndRead", func(t *testing.T) {
		s := fresh(t)
		if es, err := s.AccountAudit(ctx, "alice"); err != nil || len(es) != 0 {
			t.Fatalf("empty store: %v %v", es, err)
		}
		e1, err := s.AppendAudit(ctx, entry("alice", "m1", Confirm, ""), 0)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := s.AppendAudit(ctx, entry("bob", "m9", Reject, "a cat"), 0)
		if err != nil {
			t.Fatal(err)
		}
		e3, err := s.AppendAudit(ctx, entry("alice", "", Report, ""), e1.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if !(0 < e1.Seq && e1.Seq < e2.Seq && e2.Seq < e3.Seq) {
			t.Fatalf("sequence numbers %d %d %d do not increase", e1.Seq, e2.Seq, e3.Seq)
		}
		es, err := s.AccountAudit(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 2 || es[0] != e1 || es[1] != e3 {
			t.Fatalf("alice's entries %+v, want %+v %+v", es, e1, e3)
		}
		all, err := s.Audit(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3 || all[0] != e1 || all[1] != e2 || all[2] != e3 {
			t.Fatalf("log %+v", all)
		}
		if !all[0].At.Equal(e1.At) || all[1].Reason != "a cat" {
			t.Fatalf("fields lost: %+v", all)
		}
		page, err := s.Audit(ctx, e1.Seq, 1)
		if err != nil || len(page) != 1 || page[0] != e2 {
			t.Fatalf("page after %d: %+v %v", e1.Seq, page, err)
		}
		if page, err := s.Audit(ctx, e3.Seq, 10); err != nil || len(page) != 0 {
			t.Fatalf("page after the end: %+v %v", page, err)
		}
	})

	t.Run("Conflict", func(t *testing.T) {
		s := fresh(t)
		e1, err := s.AppendAudit(ctx, entry("alice", "m1", Confirm, ""), 0)
		if err != nil {
			t.Fatal(err)
		}
		// Both a stale and a future "after" are refused.
		for _, after := range []uint64{0, e1.Seq + 1} {
			if _, err := s.AppendAudit(ctx, entry("alice", "m2", Confirm, ""), after); !errors.Is(err, ErrAuditConflict) {
				t.Fatalf("after %d: %v, want ErrAuditConflict", after, err)
			}
		}
		if es, _ := s.AccountAudit(ctx, "alice"); len(es) != 1 {
			t.Fatalf("a refused entry was stored: %+v", es)
		}
	})

	t.Run("ConcurrentAppendsOneWins", func(t *testing.T) {
		s := fresh(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := AuditEntry{At: time.Unix(1, 0), Reviewer: fmt.Sprintf("r%d", i), Account: "carol", Decision: Dismiss}
				if _, err := s.AppendAudit(ctx, e, 0); err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				} else if !errors.Is(err, ErrAuditConflict) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if es, _ := s.AccountAudit(ctx, "carol"); won != 1 || len(es) != 1 {
			t.Fatalf("%d appends won, %d stored; want 1", won, len(es))
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		s := fresh(t)
		good := entry("alice", "m1", Reject, "r")
		for name, mod := range map[string]func(*AuditEntry){
			"no account":        func(e *AuditEntry) { e.Account = "" },
			"no reviewer":       func(e *AuditEntry) { e.Reviewer = "" },
			"no time":           func(e *AuditEntry) { e.At = time.Time{} },
			"unknown decision":  func(e *AuditEntry) { e.Decision = "maybe" },
			"confirm no match":  func(e *AuditEntry) { e.Decision, e.Match = Confirm, "" },
			"report with match": func(e *AuditEntry) { e.Decision = Report },
			"long reason":       func(e *AuditEntry) { e.Reason = strings.Repeat("x", MaxReason+1) },
			"bad utf-8":         func(e *AuditEntry) { e.Reason = "\xff" },
		} {
			e := good
			mod(&e)
			if _, err := s.AppendAudit(ctx, e, 0); !errors.Is(err, ErrAuditEntry) {
				t.Errorf("%s: %v, want ErrAuditEntry", name, err)
			}
		}
		if all, _ := s.Audit(ctx, 0, 10); len(all) != 0 {
			t.Fatalf("invalid entries stored: %+v", all)
		}
	})

	t.Run("Context", func(t *testing.T) {
		s := fresh(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.AppendAudit(cctx, entry("alice", "m1", Confirm, ""), 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled append: %v", err)
		}
	})
}

func TestReviewStoreBolt(t *testing.T) {
	testReviewStore(t, func(t *testing.T) ReviewStore {
		s := openBolt(t, filepath.Join(t.TempDir(), "s.db"))
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestReviewStorePostgres runs the same tests on PostgreSQL, a fresh
// database for each.
func TestReviewStorePostgres(t *testing.T) {
	testReviewStore(t, func(t *testing.T) ReviewStore {
		return openPostgresDB(t, pg.Get(t))
	})
}

// TestReviewStoreBoltDurable reopens the file: decisions survive a restart
// and do not disturb the voucher state.
func TestReviewStoreBoltDurable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	s := openBolt(t, path)
	if _, err := s.Add(ctx, "alice", []Item{{ID: id(1), Kind: NonMatch}}); err != nil {
		t.Fatal(err)
	}
	e, err := s.AppendAudit(ctx, AuditEntry{At: time.Unix(5, 0).UTC(), Reviewer: "r", Account: "alice", Match: "m", Decision: Confirm}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openBolt(t, path)
	defer s.Close()
	es, err := s.AccountAudit(ctx, "alice")
	if err != nil || len(es) != 1 || es[0] != e {
		t.Fatalf("after reopening: %+v %v, want %+v", es, err, e)
	}
	if accts, err := s.Accounts(ctx); err != nil || len(accts) != 1 || accts[0] != "alice" {
		t.Fatalf("accounts %v %v", accts, err)
	}
	if _, err := s.AppendAudit(ctx, AuditEntry{At: time.Unix(6, 0), Reviewer: "r", Account: "alice", Decision: Report}, e.Seq); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeAudit(f *testing.F) {
	e := AuditEntry{Seq: 3, At: time.Unix(5, 0).UTC(), Reviewer: "r", Account: "alice", Match: "m", Decision: Reject, Reason: "no"}
	b, _ := encodeAudit(&e)
	f.Add(b)
	f.Add([]byte(`{"decision":"report","account":"a","reviewer":"r","at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeAudit(b)
		if err != nil {
			return
		}
		if err := CheckAuditEntry(&e); err != nil {
			t.Fatalf("decoded an invalid entry: %v", err)
		}
		b2, err := encodeAudit(&e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := decodeAudit(b2)
		if err == nil && e2.At.Equal(e.At) {
			e2.At = e.At // the same instant; the Location may be another pointer
		}
		if err != nil || e2 != e {
			t.Fatalf("round trip: %+v %v, want %+v", e2, err, e)
		}
	})
}

// openBolt opens (or reopens) a bbolt store for the review tests.
func openBolt(t *testing.T, path string) *Bolt {
	t.Helper()
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// BenchmarkAppendAudit is one decision: a checked append, fsynced.
func BenchmarkAppendAudit(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "s.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchAppendAudit(b, s)
}

// benchAppendAudit appends one decision per iteration, each checked
// against the one before, on any review store.
func benchAppendAudit(b *testing.B, s ReviewStore) {
	ctx := context.Background()
	var last uint64
	for i := 0; b.Loop(); i++ {
		e, err := s.AppendAudit(ctx, AuditEntry{At: time.Unix(int64(i), 0), Reviewer: "rev1", Account: "alice",
			Match: fmt.Sprintf("%032x", i), Decision: Confirm}, last)
		if err != nil {
			b.Fatal(err)
		}
		last = e.Seq
	}
}

// BenchmarkAudit reads the log in pages of 1000, as GET /v1/audit does.
func BenchmarkAudit(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "s.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	last := map[string]uint64{}
	for i := range 2000 {
		a := fmt.Sprintf("acct%d", i%100)
		e, err := s.AppendAudit(ctx, AuditEntry{At: time.Unix(int64(i), 0), Reviewer: "rev1", Account: a,
			Match: fmt.Sprintf("%032x", i), Decision: Reject, Reason: "not the listed image"}, last[a])
		if err != nil {
			b.Fatal(err)
		}
		last[a] = e.Seq
	}
	for b.Loop() {
		n := 0
		for after := uint64(0); ; {
			page, err := s.Audit(ctx, after, 1000)
			if err != nil {
				b.Fatal(err)
			}
			n += len(page)
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Seq
		}
		if n != 2000 {
			b.Fatalf("%d entries", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/2000, "ns/entry")
}
