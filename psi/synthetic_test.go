package psi

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// persisted is an account file kept in memory: the client saves every new
// synthetic id through ClientOptions.SaveAccount, and each run starts from
// what was saved, as the CLI does with its account file.
type persisted struct{ b []byte }

func (p *persisted) load(t *testing.T) *Account {
	t.Helper()
	a := new(Account)
	if err := a.UnmarshalBinary(p.b); err != nil {
		t.Fatal(err)
	}
	return a
}

// run makes the vouchers of lib (names of library entries) with the saved
// account and returns the server's candidate ids, below the threshold. The
// library entries are (path, hash) pairs; ids are derived from them as the
// CLI does, so a re-run repeats them.
func (p *persisted) run(t *testing.T, f *fixture, rate float64, lib []libEntry) map[ID]bool {
	t.Helper()
	a := p.load(t)
	c, err := NewClient(f.table, a, &ClientOptions{SyntheticRate: rate, SaveAccount: func(b []byte) error {
		p.b = bytes.Clone(b)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	trs := make([]Triple, len(lib))
	for i, e := range lib {
		trs[i] = Triple{Hash: e.hash, ID: a.DeriveID([]byte(e.path + "\x00" + e.hash.String()))}
	}
	vs, err := c.Vouchers(drbg(fmt.Sprint("synthrun", len(lib), lib[0].path)), trs)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*MatchRecord
	for _, r := range f.server.MatchBatch(vs, 0) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if r.Record != nil {
			recs = append(recs, r.Record)
		}
	}
	res, err := Reveal(f.params, recs)
	if err != nil {
		t.Fatal(err)
	}
	if res.AboveThreshold || len(res.ConflictIDs) != 0 {
		t.Fatalf("run of %d: above=%v conflicts=%d", len(lib), res.AboveThreshold, len(res.ConflictIDs))
	}
	out := map[ID]bool{}
	for _, id := range res.CandidateIDs {
		out[id] = true
	}
	return out
}

type libEntry struct {
	path string
	hash Hash
}

func restrict(m map[ID]bool, keep map[ID]bool) map[ID]bool {
	out := map[ID]bool{}
	for id := range m {
		if keep[id] {
			out[id] = true
		}
	}
	return out
}

func sameSet(a, b map[ID]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for id := range a {
		if !b[id] {
			return false
		}
	}
	return true
}

// TestSyntheticDecisionsRepeat is the reproduction of issue 10: vouchers
// made twice for the same library with the same account must give the
// server the same candidate set, also when the second run is resumed after
// a crash, reorders the library, or covers a superset of it, with and
// without database photos in the library. The rate is high enough that the
// secret cap is reached within the first run, which is what made the old
// counter rule turn synthetic ids real on a re-run.
func TestSyntheticDecisionsRepeat(t *testing.T) {
	p := Params{T: 3, S: 10, ADLen: 32}
	f := newFixture(t, "repeat", p, 20)
	const rate = 0.05
	for _, dbPhotos := range []int{0, 2} {
		t.Run(fmt.Sprintf("db-photos=%d", dbPhotos), func(t *testing.T) {
			acct, _ := NewAccount(drbg(fmt.Sprint("repeat/acct", dbPhotos)), "repeat")
			b, _ := acct.MarshalBinary()
			st := &persisted{b: b}
			var lib []libEntry
			for i := 0; i < 400; i++ {
				lib = append(lib, libEntry{fmt.Sprintf("img/%d.jpg", i), hashN("repeat/lib", i)})
			}
			for i := 0; i < dbPhotos; i++ { // database photos, below t
				lib[100+50*i].hash = f.members[i]
			}
			ids := map[ID]bool{}
			for _, e := range lib {
				ids[acct.DeriveID([]byte(e.path+"\x00"+e.hash.String()))] = true
			}

			run1 := st.run(t, f, rate, lib)
			cap := st.load(t).SyntheticCount()
			if len(run1) != cap+dbPhotos || cap < p.T {
				t.Fatalf("run 1: %d candidates, %d synthetic ids, %d database photos", len(run1), cap, dbPhotos)
			}
			// The draws alone would make about 20 of 400 synthetic: the
			// cap (at most s − ⌈s/10⌉ = 9) was reached.
			run2 := st.run(t, f, rate, lib)
			if !sameSet(run1, run2) {
				t.Fatalf("re-run: %d candidates, first run %d", len(run2), len(run1))
			}

			// Resumed: a fresh account crashes after 150 entries (only what
			// SaveAccount wrote survives), then the rest is made.
			acct2, _ := NewAccount(drbg(fmt.Sprint("repeat/acct", dbPhotos)), "repeat")
			b2, _ := acct2.MarshalBinary()
			st2 := &persisted{b: b2}
			part := st2.run(t, f, rate, lib[:150])
			rest := st2.run(t, f, rate, lib[150:])
			for id := range rest {
				part[id] = true
			}
			if !sameSet(run1, part) {
				t.Fatalf("resumed: %d candidates, first run %d", len(part), len(run1))
			}

			// Reordered.
			shuf := slices.Clone(lib)
			rand.New(rand.NewPCG(1, uint64(dbPhotos))).Shuffle(len(shuf), func(i, j int) { shuf[i], shuf[j] = shuf[j], shuf[i] })
			if got := st.run(t, f, rate, shuf); !sameSet(run1, got) {
				t.Fatalf("reordered: %d candidates, first run %d", len(got), len(run1))
			}

			// Superset: new photos before and after; the shared ids keep
			// their decisions.
			var sup []libEntry
			for i := 0; i < 100; i++ {
				sup = append(sup, libEntry{fmt.Sprintf("new/%d.jpg", i), hashN("repeat/new", i)})
			}
			sup = append(sup, lib...)
			for i := 100; i < 200; i++ {
				sup = append(sup, libEntry{fmt.Sprintf("new/%d.jpg", i), hashN("repeat/new", i)})
			}
			if got := restrict(st.run(t, f, rate, sup), ids); !sameSet(run1, got) {
				t.Fatalf("superset: %d candidates among the shared ids, first run %d", len(got), len(run1))
			}
			if n := st.load(t).SyntheticCount(); n != cap {
				t.Fatalf("synthetic set grew from %d to %d after the cap", cap, n)
			}
		})
	}
}

// A failed save stops the voucher and leaves the id out of the set, so no
// synthetic voucher exists whose id the account file does not hold.
func TestSyntheticSaveFails(t *testing.T) {
	p := Params{T: 3, S: 10, ADLen: 32}
	f := newFixture(t, "savefail", p, 5)
	boom := errors.New("disk full")
	c, err := NewClient(f.table, f.account, &ClientOptions{SyntheticRate: 1, SaveAccount: func([]byte) error { return boom }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Voucher(drbg("sf"), &Triple{Hash: hashN("sf", 0), ID: idN("sf", 0)}); !errors.Is(err, boom) {
		t.Fatalf("voucher with a failing save: %v", err)
	}
	if _, err := c.Vouchers(drbg("sf"), []Triple{{Hash: hashN("sf", 1), ID: idN("sf", 1)}}); !errors.Is(err, boom) {
		t.Fatalf("vouchers with a failing save: %v", err)
	}
	if n := f.account.SyntheticCount(); n != 0 {
		t.Fatalf("%d ids in the set after failed saves", n)
	}
}
