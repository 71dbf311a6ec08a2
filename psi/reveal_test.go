package psi

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// scenario makes nReal real matches (plus nNon non-matching real vouchers)
// and nSynth synthetic vouchers (forced, cap ignored) for one account, and
// returns the match records and which ids are real.
type scenario struct {
	recs      []*MatchRecord
	realIDs   map[ID][]byte // id → expected derivative
	synthIDs  map[ID]bool
	realHash  map[ID]Hash
	nonRecord int
}

func makeScenario(t testing.TB, f *fixture, c *Client, label string, nReal, nSynth int) *scenario {
	t.Helper()
	sc := &scenario{realIDs: map[ID][]byte{}, synthIDs: map[ID]bool{}, realHash: map[ID]Hash{}}
	rnd := drbg(label + "/vouchers")
	var vs [][]byte
	for i := 0; i < nReal; i++ {
		id := idN(label+"/real", i)
		d := []byte(fmt.Sprintf("derivative %d", i))
		tr := Triple{Hash: f.members[i%len(f.members)], ID: id, Derivative: d}
		var seed [32]byte
		rnd.Read(seed[:])
		v, err := c.build(seed, &tr, 0)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
		sc.realIDs[id] = d
		sc.realHash[id] = tr.Hash
	}
	for i := 0; i < nSynth; i++ {
		id := idN(label+"/synth", i)
		tr := Triple{Hash: hashN(label+"/synth", i), ID: id}
		var seed [32]byte
		rnd.Read(seed[:])
		v, err := c.build(seed, &tr, 1)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
		sc.synthIDs[id] = true
	}
	for i, r := range f.server.MatchBatch(vs, 0) {
		if r.Err != nil || r.Record == nil {
			t.Fatalf("voucher %d: record %v err %v", i, r.Record, r.Err)
		}
		sc.recs = append(sc.recs, r.Record)
	}
	return sc
}

func (sc *scenario) check(t *testing.T, res *RevealResult, wantAbove bool) {
	t.Helper()
	n := len(sc.realIDs) + len(sc.synthIDs)
	if res.Candidates != n || len(res.CandidateIDs) != n {
		t.Fatalf("candidates %d, want %d", res.Candidates, n)
	}
	if res.AboveThreshold != wantAbove {
		t.Fatalf("above threshold %v, want %v", res.AboveThreshold, wantAbove)
	}
	if len(res.ConflictIDs) != 0 || len(res.MalformedIDs) != 0 || len(res.BadShareIDs) != 0 || len(res.InvalidAD) != 0 || res.ExcessSynthetic || res.Undecodable {
		t.Fatalf("flags: %+v", res)
	}
	if !wantAbove {
		if len(res.Revealed) != 0 || len(res.SyntheticIDs) != 0 {
			t.Fatalf("below threshold but revealed %d, synthetic %d", len(res.Revealed), len(res.SyntheticIDs))
		}
		return
	}
	if len(res.Revealed) != len(sc.realIDs) {
		t.Fatalf("revealed %d, want %d", len(res.Revealed), len(sc.realIDs))
	}
	for _, m := range res.Revealed {
		d, ok := sc.realIDs[m.ID]
		if !ok {
			t.Fatalf("revealed a non-real id %s", m.ID)
		}
		h, _ := m.Hash()
		got, _ := m.Derivative()
		if h != sc.realHash[m.ID] || !bytes.Equal(got, d) {
			t.Fatalf("id %s: wrong associated data", m.ID)
		}
	}
	if len(res.SyntheticIDs) != len(sc.synthIDs) {
		t.Fatalf("synthetic %d, want %d", len(res.SyntheticIDs), len(sc.synthIDs))
	}
	for _, id := range res.SyntheticIDs {
		if !sc.synthIDs[id] {
			t.Fatalf("id %s named synthetic", id)
		}
	}
}

// protocol.md §8 invariants 3 and 4 at the default parameters t = 30,
// s = 60: the boundary t real → nothing, t+1 → exactly the real ones.
func TestRevealDefaults(t *testing.T) {
	p := DefaultParams
	f := newFixture(t, "defaults", p, 40)
	c := f.client(t, 0)
	sc := makeScenario(t, f, c, "defaults", p.T+1, p.S)
	real := sc.recs[:p.T+1]
	synth := sc.recs[p.T+1:]

	// t real + s synthetic: nothing, and the same output as s synthetic only.
	below := &scenario{realIDs: map[ID][]byte{}, synthIDs: sc.synthIDs}
	for _, r := range real[:p.T] {
		below.realIDs[r.ID] = nil
	}
	res, err := Reveal(p, append(slices.Clone(real[:p.T]), synth...))
	if err != nil {
		t.Fatal(err)
	}
	below.check(t, res, false)
	only, err := Reveal(p, synth)
	if err != nil {
		t.Fatal(err)
	}
	if only.AboveThreshold || len(only.Revealed) != 0 || only.Candidates != p.S {
		t.Fatalf("synthetic only: %+v", only)
	}

	// t+1 real + s synthetic: everything real, and the synthetic set.
	res, err = Reveal(p, sc.recs)
	if err != nil {
		t.Fatal(err)
	}
	sc.check(t, res, true)
	if len(res.Revealed[0].AD) != p.ADLen {
		t.Fatalf("AD of %d bytes", len(res.Revealed[0].AD))
	}
}

// The boundary and more, at small parameters, for every real count from 0
// to 3t and synthetic counts 0…s.
func TestRevealBoundary(t *testing.T) {
	p := Params{T: 4, S: 8, ADLen: 48}
	f := newFixture(t, "boundary", p, 20)
	c := f.client(t, 0)
	sc := makeScenario(t, f, c, "boundary", 3*p.T, p.S)
	realRecs := sc.recs[:3*p.T]
	synthRecs := sc.recs[3*p.T:]
	for nReal := 0; nReal <= 3*p.T; nReal++ {
		for _, nSynth := range []int{0, 1, p.S / 2, p.S} {
			sub := &scenario{realIDs: map[ID][]byte{}, synthIDs: map[ID]bool{}, realHash: sc.realHash}
			recs := append(slices.Clone(realRecs[:nReal]), synthRecs[:nSynth]...)
			for _, r := range realRecs[:nReal] {
				sub.realIDs[r.ID] = sc.realIDs[r.ID]
			}
			for _, r := range synthRecs[:nSynth] {
				sub.synthIDs[r.ID] = true
			}
			res, err := Reveal(p, recs)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(fmt.Sprintf("real=%d/synthetic=%d", nReal, nSynth), func(t *testing.T) {
				sub.check(t, res, nReal > p.T)
			})
		}
	}
}

// Reveal is a function of the set of records: order and exact duplicates
// (retries) do not matter.
func TestRevealOrderAndDuplicates(t *testing.T) {
	p := Params{T: 3, S: 6, ADLen: 32}
	f := newFixture(t, "order", p, 20)
	c := f.client(t, 0)
	sc := makeScenario(t, f, c, "order", 5, 4)
	want, _ := Reveal(p, sc.recs)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5; i++ {
		recs := append(slices.Clone(sc.recs), sc.recs[r.IntN(len(sc.recs))])
		r.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
		got, _ := Reveal(p, recs)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("shuffle %d changed the result", i)
		}
	}
	sc.check(t, want, true)
}

// protocol.md §8 invariant 5: the same triple sent twice, or from two
// devices of the account, gives one share; the same hash under two ids
// counts twice.
func TestDuplicatesCountOnce(t *testing.T) {
	p := Params{T: 3, S: 6, ADLen: 32}
	f := newFixture(t, "dup", p, 20)
	dev1 := f.client(t, 0)
	b, _ := f.account.MarshalBinary()
	acct2 := new(Account) // second device: same seed
	if err := acct2.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	dev2, err := NewClient(f.table, acct2, &ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var recs []*MatchRecord
	for i := 0; i < 3; i++ { // t distinct triples, each from both devices and retried
		tr := Triple{Hash: f.members[i], ID: idN("dup", i)}
		for j, c := range []*Client{dev1, dev2, dev1} {
			v, err := c.Voucher(drbg(fmt.Sprint("dup", i, j)), &tr)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := f.server.Match(v)
			if rec == nil || err != nil {
				t.Fatal(err)
			}
			// Only the first copy is new: a server keeping records
			// between reveals drops the others as retries.
			retry := slices.ContainsFunc(recs, rec.SameShare)
			if retry != (j != 0) {
				t.Fatalf("triple %d copy %d: retry=%v", i, j, retry)
			}
			recs = append(recs, rec)
		}
	}
	res, _ := Reveal(p, recs)
	if res.Candidates != 3 || res.AboveThreshold || len(res.ConflictIDs) != 0 {
		t.Fatalf("duplicates: %+v", res)
	}
	// The same hash under a fourth id counts: t+1 distinct ids cross.
	v, _ := dev2.Voucher(drbg("dup4"), &Triple{Hash: f.members[0], ID: idN("dup", 99)})
	rec, _ := f.server.Match(v)
	res, _ = Reveal(p, append(recs, rec))
	if res.Candidates != 4 || !res.AboveThreshold || len(res.Revealed) != 4 {
		t.Fatalf("same hash, new id: %+v", res)
	}
}

// protocol.md §8 invariant 7: matches from two epochs (different α and
// nonces) add up toward one threshold.
func TestEpochsAddUp(t *testing.T) {
	p := Params{T: 3, S: 6, ADLen: 32}
	e1 := newFixture(t, "epoch1", p, 20)
	e2 := newFixture(t, "epoch2", p, 20)
	e2.members = e1.members // same hash list, new nonces and α
	res, err := BuildTable(drbg("epoch2/table"), e1.members, TableOptions{Params: p, Epoch: 2})
	if err != nil {
		t.Fatal(err)
	}
	e2.table, e2.key = res.Table, res.Key
	if e2.table.DBID() == e1.table.DBID() {
		t.Fatal("same db_id")
	}
	srv, err := NewServer(e1.key, e2.key)
	if err != nil {
		t.Fatal(err)
	}
	c1 := e1.client(t, 0)
	c2, _ := NewClient(e2.table, e1.account, &ClientOptions{})
	var recs []*MatchRecord
	for i := 0; i < 4; i++ {
		c := c1
		if i%2 == 1 {
			c = c2
		}
		v, err := c.Voucher(drbg(fmt.Sprint("ep", i)), &Triple{Hash: e1.members[i], ID: idN("ep", i), Derivative: []byte{byte(i)}})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := srv.Match(v)
		if rec == nil || err != nil {
			t.Fatalf("voucher %d: %v", i, err)
		}
		recs = append(recs, rec)
	}
	out, _ := Reveal(p, recs[:3])
	if out.AboveThreshold {
		t.Fatal("3 = t matches revealed")
	}
	out, _ = Reveal(p, recs)
	if !out.AboveThreshold || len(out.Revealed) != 4 {
		t.Fatalf("two epochs: %+v", out)
	}
	seen := map[DBID]int{}
	for _, m := range out.Revealed {
		seen[m.DBID]++
	}
	if seen[e1.table.DBID()] != 2 || seen[e2.table.DBID()] != 2 {
		t.Fatalf("epochs in output: %v", seen)
	}
}

// protocol.md §8 invariant 9 and §4.5: more than s synthetic matches.
func TestRevealExcessSynthetic(t *testing.T) {
	p := Params{T: 3, S: 6, ADLen: 32}
	f := newFixture(t, "excess", p, 40)
	c := f.client(t, 0)
	// s+1 synthetic and t real: flagged, nothing decrypted.
	sc := makeScenario(t, f, c, "excess", p.T, p.S+1)
	res, err := Reveal(p, sc.recs)
	if err != nil {
		t.Fatal(err)
	}
	if res.AboveThreshold || len(res.Revealed) != 0 || !res.ExcessSynthetic {
		t.Fatalf("excess below threshold: %+v", res)
	}
	// Many real and s+2 synthetic: the subset decoder recovers and flags.
	sc = makeScenario(t, f, c, "excess2", 30, p.S+2)
	res, err = Reveal(p, sc.recs)
	if err != nil {
		t.Fatal(err)
	}
	if !res.AboveThreshold || len(res.Revealed) != 30 || len(res.SyntheticIDs) != p.S+2 || !res.ExcessSynthetic {
		t.Fatalf("excess above threshold: above=%v revealed=%d synthetic=%d flag=%v",
			res.AboveThreshold, len(res.Revealed), len(res.SyntheticIDs), res.ExcessSynthetic)
	}
}

// protocol.md §8 invariant 10: a share with z altered makes reconstruction
// fail the AEAD check, never return wrong plaintext; inconsistent ids and
// invalid associated data are flagged.
func TestRevealTampering(t *testing.T) {
	p := Params{T: 3, S: 6, ADLen: 32}
	f := newFixture(t, "tamper", p, 20)
	c := f.client(t, 0)
	sc := makeScenario(t, f, c, "tamper", p.T+1, 2)
	// Exactly t+1 real, one with z altered: nothing to correct with, no
	// key, nothing revealed; flagged undecodable, not excess synthetic.
	recs := cloneRecords(sc.recs)
	recs[0].Z[31] ^= 1
	res, _ := Reveal(p, recs)
	if res.AboveThreshold || len(res.Revealed) != 0 || !res.Undecodable || res.ExcessSynthetic {
		t.Fatalf("altered share revealed: %+v", res)
	}
	// Same id with a second, altered share (in either order): a conflict;
	// the consistent share is used, the altered one named.
	for _, d := range []int{+1, -1} {
		recs = cloneRecords(sc.recs)
		alt := cloneRecords(recs[:1])[0]
		alt.Z[1] += byte(d)
		res, _ = Reveal(p, append(recs, alt))
		if len(res.ConflictIDs) != 1 || res.ConflictIDs[0] != alt.ID || !res.AboveThreshold || len(res.Revealed) != p.T+1 ||
			!slices.Equal(res.BadShareIDs, res.ConflictIDs) || res.ExcessSynthetic || res.Undecodable {
			t.Fatalf("conflict (%+d): %+v", d, res)
		}
	}
	// With t+2 real, one bad adct: the others open, the bad one is flagged.
	sc = makeScenario(t, f, c, "tamper2", p.T+2, 2)
	recs = cloneRecords(sc.recs)
	recs[1].ADCT[20] ^= 1
	res, _ = Reveal(p, recs)
	if !res.AboveThreshold || len(res.Revealed) != p.T+1 || len(res.InvalidAD) != 1 || res.InvalidAD[0] != recs[1].ID {
		t.Fatalf("bad adct: above=%v revealed=%d invalid=%v", res.AboveThreshold, len(res.Revealed), res.InvalidAD)
	}
	// Malformed records (wrong s, r ≥ ℓ) are named, not fatal.
	recs = cloneRecords(sc.recs)
	recs[0].R = recs[0].R[:3]
	recs[1].R[2] = ^uint64(0)
	res, err := Reveal(p, append(recs, nil))
	if err != nil || len(res.MalformedIDs) != 2 {
		t.Fatalf("malformed: %v %+v", err, res)
	}
	if _, err := Reveal(Params{T: 0, S: 6}, nil); err == nil {
		t.Fatal("t=0 accepted")
	}
}

func cloneRecords(rs []*MatchRecord) []*MatchRecord {
	out := make([]*MatchRecord, len(rs))
	for i, r := range rs {
		c := *r
		c.R = slices.Clone(r.R)
		c.ADCT = slices.Clone(r.ADCT)
		out[i] = &c
	}
	return out
}
