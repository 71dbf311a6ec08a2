package store

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

func id(i int) (out [16]byte) {
	out[0], out[1], out[15] = byte(i>>8), byte(i), 0xAA
	return out
}

func open(t *testing.T, path string) *Bolt {
	t.Helper()
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAddIdempotentAndDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := open(t, path)
	items := []Item{
		{ID: id(1), Kind: Match, Share: [8]byte{1}, Record: []byte("rec1")},
		{ID: id(2), Kind: NonMatch},
		{ID: id(3), Kind: Invalid},
		{ID: id(1), Kind: Match, Share: [8]byte{1}, Record: []byte("rec1")}, // same batch
	}
	st, err := s.Add("alice", items)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Status{Added, Added, Added, Duplicate}; !slices.Equal(st, want) {
		t.Fatalf("statuses %v, want %v", st, want)
	}
	// A retry adds nothing; a conflicting share under id 1 is kept apart.
	st, err = s.Add("alice", []Item{
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
	if err := s.SetReveal("alice", []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file mode %v, %v", fi.Mode(), err)
	}

	s = open(t, path)
	defer s.Close()
	c, ok, err := s.Counts("alice")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	want := Counts{Vouchers: 3, Matches: 1, NonMatches: 1, Invalid: 1, Conflicts: 2}
	if c != want {
		t.Fatalf("counts %+v, want %+v", c, want)
	}
	recs, err := s.Records("alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || string(recs[0]) != "rec1" || string(recs[1]) != "rec1-other" || string(recs[2]) != "late" {
		t.Fatalf("records %q", recs)
	}
	if r, _ := s.Reveal("alice"); string(r) != `{"x":1}` {
		t.Fatalf("reveal %q", r)
	}
	if _, ok, _ := s.Counts("bob"); ok {
		t.Fatal("bob exists")
	}
	if r, err := s.Reveal("bob"); r != nil || err != nil {
		t.Fatal(r, err)
	}
	if a, _ := s.Accounts(); !slices.Equal(a, []string{"alice"}) {
		t.Fatal(a)
	}
}

func TestRejects(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
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
		if _, err := s.Add(c.acct, []Item{c.it}); err == nil {
			t.Errorf("Add(%.8q, %+v) succeeded", c.acct, c.it)
		}
	}
	if a, _ := s.Accounts(); len(a) != 0 {
		t.Fatal(a)
	}
}

func TestLockedByAnotherOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := open(t, path)
	defer s.Close()
	if _, err := Open(path, &Options{LockTimeout: 50e6}); err == nil {
		t.Fatal("second Open succeeded")
	}
}

func TestConcurrentAdds(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				// Every goroutine sends the same ids: each counts once.
				if _, err := s.Add(fmt.Sprint("acct", i%3), []Item{{ID: id(i), Kind: NonMatch}}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	var total uint64
	for i := 0; i < 3; i++ {
		c, _, _ := s.Counts(fmt.Sprint("acct", i))
		total += c.Vouchers
	}
	if total != 20 {
		t.Fatalf("%d vouchers, want 20", total)
	}
}
