package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/recon/store/pgtest"
)

// pg is the package's PostgreSQL server, started by the first test that
// needs it and stopped by TestMain.
var pg pgtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

func id(i int) (out [16]byte) {
	out[0], out[1], out[15] = byte(i>>8), byte(i), 0xAA
	return out
}

// backend makes fresh stores of one implementation for the conformance
// suite: fresh returns an empty store and a function that opens it again
// (after Close), as another process would.
type backend struct {
	name  string
	fresh func(t *testing.T) (s Store, reopen func() Store)
}

func backends() []backend {
	return []backend{
		{"bolt", func(t *testing.T) (Store, func() Store) {
			path := filepath.Join(t.TempDir(), "s.db")
			open := func() Store {
				s, err := Open(path, nil)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			return open(), open
		}},
		{"postgres", func(t *testing.T) (Store, func() Store) {
			srv := pg.Get(t)
			url, err := srv.CreateDB(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			open := func() Store {
				s, err := OpenPostgres(t.Context(), url, nil)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			return open(), open
		}},
	}
}

// TestConformance runs the same behaviour checks on every Store.
func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		f    func(t *testing.T, s Store, reopen func() Store)
	}{
		{"AddIdempotentAndDurable", testAddIdempotentAndDurable},
		{"Rejects", testRejects},
		{"ConcurrentAdds", testConcurrentAdds},
		{"Lock", testLock},
		{"Canceled", testCanceled},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					s, reopen := b.fresh(t)
					tc.f(t, s, reopen)
				})
			}
		})
	}
}

func testAddIdempotentAndDurable(t *testing.T, s Store, reopen func() Store) {
	ctx := t.Context()
	items := []Item{
		{ID: id(1), Kind: Match, Share: [8]byte{1}, Record: []byte("rec1")},
		{ID: id(2), Kind: NonMatch},
		{ID: id(3), Kind: Invalid},
		{ID: id(1), Kind: Match, Share: [8]byte{1}, Record: []byte("rec1")}, // same batch
	}
	st, err := s.Add(ctx, "alice", items)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Status{Added, Added, Added, Duplicate}; !slices.Equal(st, want) {
		t.Fatalf("statuses %v, want %v", st, want)
	}
	// A retry adds nothing; a conflicting share under id 1 is kept apart,
	// and so is a match record under an id first stored as a non-match.
	st, err = s.Add(ctx, "alice", []Item{
		{ID: id(2), Kind: NonMatch},
		{ID: id(1), Kind: Match, Share: [8]byte{2}, Record: []byte("rec1-other")},
		{ID: id(2), Kind: Match, Share: [8]byte{3}, Record: []byte("late")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Status{Duplicate, Duplicate, Duplicate}; !slices.Equal(st, want) {
		t.Fatalf("statuses %v, want %v", st, want)
	}
	// In one batch: a new id first as a non-match, then as a match.
	st, err = s.Add(ctx, "alice", []Item{
		{ID: id(4), Kind: NonMatch},
		{ID: id(4), Kind: Match, Share: [8]byte{4}, Record: []byte("rec4")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Status{Added, Duplicate}; !slices.Equal(st, want) {
		t.Fatalf("statuses %v, want %v", st, want)
	}
	if err := s.SetReveal(ctx, "alice", []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = reopen()
	defer s.Close()
	c, ok, err := s.Counts(ctx, "alice")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	want := Counts{Vouchers: 4, Matches: 1, NonMatches: 2, Invalid: 1, Conflicts: 3}
	if c != want {
		t.Fatalf("counts %+v, want %+v", c, want)
	}
	recs, err := s.Records(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"rec1", "rec1-other", "late", "rec4"}; !slices.Equal(strs(recs), want) {
		t.Fatalf("records %q, want %q", recs, want)
	}
	if r, _ := s.Reveal(ctx, "alice"); string(r) != `{"x":1}` {
		t.Fatalf("reveal %q", r)
	}
	if _, ok, _ := s.Counts(ctx, "bob"); ok {
		t.Fatal("bob exists")
	}
	if r, err := s.Reveal(ctx, "bob"); r != nil || err != nil {
		t.Fatal(r, err)
	}
	if r, err := s.Records(ctx, "bob"); r != nil || err != nil {
		t.Fatal(r, err)
	}
	if _, err := s.Add(ctx, "Bob-2", []Item{{ID: id(9), Kind: NonMatch}}); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Accounts(ctx); !slices.Equal(a, []string{"Bob-2", "alice"}) {
		t.Fatal(a)
	}
	tot, err := s.(Totaler).Totals(ctx)
	if want := (Totals{Accounts: 2, Counts: Counts{Vouchers: 5, Matches: 1, NonMatches: 3, Invalid: 1, Conflicts: 3}}); err != nil || tot != want {
		t.Fatalf("totals %+v, %v; want %+v", tot, err, want)
	}
}

func strs(bs [][]byte) []string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b))
	}
	return out
}

func testRejects(t *testing.T, s Store, _ func() Store) {
	defer s.Close()
	ctx := t.Context()
	for _, c := range []struct {
		acct string
		it   Item
	}{
		{"", Item{Kind: NonMatch}},
		{string(make([]byte, MaxAccount+1)), Item{Kind: NonMatch}},
		{"a", Item{Kind: 0}},
		{"a", Item{Kind: Match}},
		{"a", Item{Kind: NonMatch, Record: []byte{1}}},
	} {
		if _, err := s.Add(ctx, c.acct, []Item{c.it}); err == nil {
			t.Errorf("Add(%.8q, %+v) succeeded", c.acct, c.it)
		}
	}
	if err := s.SetReveal(ctx, "", []byte("x")); err == nil {
		t.Error("SetReveal with no account succeeded")
	}
	if a, _ := s.Accounts(ctx); len(a) != 0 {
		t.Fatal(a)
	}
}

func testConcurrentAdds(t *testing.T, s Store, _ func() Store) {
	defer s.Close()
	ctx := t.Context()
	var wg sync.WaitGroup
	added := make([]int, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				// Every goroutine sends the same ids: each counts once.
				st, err := s.Add(ctx, fmt.Sprint("acct", i%3), []Item{{ID: id(i), Kind: NonMatch}, {ID: id(100 + g), Kind: Invalid}})
				if err != nil {
					t.Error(err)
					return
				}
				for _, x := range st {
					if x == Added {
						added[g]++
					}
				}
			}
		}()
	}
	wg.Wait()
	var total uint64
	for i := 0; i < 3; i++ {
		c, _, _ := s.Counts(ctx, fmt.Sprint("acct", i))
		total += c.Vouchers
	}
	// 20 shared ids, plus each goroutine's own id in each of 3 accounts.
	if want := uint64(20 + 8*3); total != want {
		t.Fatalf("%d vouchers, want %d", total, want)
	}
	sum := 0
	for _, n := range added {
		sum += n
	}
	if uint64(sum) != total {
		t.Fatalf("%d answered added, %d counted", sum, total)
	}
}

func testLock(t *testing.T, s Store, _ func() Store) {
	defer s.Close()
	ctx := t.Context()
	unlock, ok, err := s.LockAccount(ctx, "alice", false)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, ok, err := s.LockAccount(ctx, "alice", false); ok || err != nil {
		t.Fatalf("second lock: %v %v", ok, err)
	}
	unlockBob, ok, err := s.LockAccount(ctx, "bob", false)
	if err != nil || !ok {
		t.Fatal("bob's lock:", ok, err)
	}
	unlockBob()
	// A waiter gets the lock once the holder lets go, and not before.
	got := make(chan func())
	go func() {
		u, ok, err := s.LockAccount(ctx, "alice", true)
		if err != nil || !ok {
			t.Error(ok, err)
			got <- func() {}
			return
		}
		got <- u
	}()
	select {
	case <-got:
		t.Fatal("the waiter got a held lock")
	default:
	}
	unlock()
	(<-got)()
	// A waiter gives up when its context ends.
	unlock, _, _ = s.LockAccount(ctx, "alice", false)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, ok, err := s.LockAccount(cctx, "alice", true); ok || err == nil {
		t.Fatalf("a canceled wait: %v %v", ok, err)
	}
	unlock()
	if u, ok, err := s.LockAccount(ctx, "alice", false); !ok || err != nil {
		t.Fatal("lock not released:", ok, err)
	} else {
		u()
	}
}

func testCanceled(t *testing.T, s Store, _ func() Store) {
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Add(ctx, "alice", []Item{{ID: id(1), Kind: NonMatch}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Add with a canceled context: %v", err)
	}
	if _, ok, err := s.Counts(t.Context(), "alice"); ok || err != nil {
		t.Fatalf("a canceled Add stored: %v %v", ok, err)
	}
}

func TestBoltFileModeAndLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file mode %v, %v", fi.Mode(), err)
	}
	if _, err := Open(path, &Options{LockTimeout: 50e6}); err == nil {
		t.Fatal("second Open succeeded")
	}
}
