package psi

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

var revealTrials = flag.Int("reveal-trials", 4, "seeded trials per case in TestRevealCorruptShares (the README figures use 1000)")

// Corrupt shares among correctly identified real matches (t = 30, s = 60,
// 36 to 100 real and 20 synthetic): the reveal decodes through up to
// ⌊(m−t−1)/2⌋ of them, names exactly them in BadShareIDs and still reveals
// every real match; beyond that it reveals nothing and says Undecodable.
// ExcessSynthetic is never set and no wrong plaintext is ever returned.
// The README figures come from
// go test ./psi -run RevealCorruptShares -v -reveal-trials 1000.
func TestRevealCorruptShares(t *testing.T) {
	p := Params{T: 30, S: 60, ADLen: 64}
	f := newFixture(t, "corrupt2", p, 100)
	c := f.client(t, 0)
	for _, m := range []int{36, 41, 100} {
		sc := makeScenario(t, f, c, fmt.Sprint("corrupt", m), m, 20)
		var realIdx []int
		for i, r := range sc.recs {
			if _, ok := sc.realIDs[r.ID]; ok {
				realIdx = append(realIdx, i)
			}
		}
		for _, k := range []int{1, 2, 5} {
			t.Run(fmt.Sprintf("real=%d/corrupt=%d", m, k), func(t *testing.T) {
				t.Parallel()
				ok, undecodable := 0, 0
				for trial := 0; trial < *revealTrials; trial++ {
					rng := rand.New(rand.NewPCG(uint64(m), uint64(k*100000+trial)))
					recs := cloneRecords(sc.recs)
					var badIDs []ID
					for _, j := range rng.Perm(len(realIdx))[:k] {
						r := recs[realIdx[j]]
						r.Z[1+rng.IntN(31)] ^= byte(1 + rng.IntN(255))
						if !scalarInRange(r.Z[:]) {
							r.Z[0] = 0
						}
						badIDs = append(badIDs, r.ID)
					}
					sortIDs(badIDs)
					res, err := Reveal(p, recs)
					if err != nil {
						t.Fatal(err)
					}
					if res.ExcessSynthetic {
						t.Fatalf("m=%d, %d corrupt, trial %d: excess_synthetic set", m, k, trial)
					}
					for _, rv := range res.Revealed {
						d, err := rv.Derivative()
						if err != nil || string(d) != string(sc.realIDs[rv.ID]) {
							t.Fatalf("m=%d, %d corrupt, trial %d: wrong plaintext for %s", m, k, trial, rv.ID)
						}
					}
					switch {
					case res.AboveThreshold && len(res.Revealed) == m && slices.Equal(res.BadShareIDs, badIDs) && len(res.SyntheticIDs) == 20:
						ok++
					case !res.AboveThreshold && res.Undecodable && len(res.Revealed) == 0:
						undecodable++
					default:
						t.Fatalf("m=%d, %d corrupt, trial %d: above=%v revealed=%d bad=%d undecodable=%v",
							m, k, trial, res.AboveThreshold, len(res.Revealed), len(res.BadShareIDs), res.Undecodable)
					}
				}
				t.Logf("t=30 s=60 real=%d synthetic=20 corrupt=%d: revealed %d/%d, undecodable %d, wrong flags 0",
					m, k, ok, *revealTrials, undecodable)
				if want := k <= (m-p.T-1)/2; want && ok != *revealTrials || !want && undecodable != *revealTrials {
					t.Errorf("m=%d, %d corrupt: revealed %d, undecodable %d of %d", m, k, ok, undecodable, *revealTrials)
				}
			})
		}
	}
}

// An honest client whose two devices grew different synthetic sets can
// send one id both as a synthetic voucher and as a real one. The server
// reports the conflict and still uses the real share.
func TestRevealConflictDevices(t *testing.T) {
	p := Params{T: 3, S: 6, ADLen: 32}
	f := newFixture(t, "conflict", p, 20)
	devA := f.client(t, 0)
	b, _ := f.account.MarshalBinary()
	acctB := new(Account)
	if err := acctB.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	devB, err := NewClient(f.table, acctB, &ClientOptions{SyntheticRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	var recs []*MatchRecord
	add := func(c *Client, i int) {
		v, err := c.Voucher(drbg(fmt.Sprint("conflict", i, c == devB)), &Triple{Hash: f.members[i], ID: idN("conflict", i)})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := f.server.Match(v)
		if err != nil || rec == nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	add(devA, 0) // real on device A
	add(devB, 0) // synthetic on device B
	add(devA, 1)
	res, _ := Reveal(p, recs)
	if res.AboveThreshold || res.Candidates != 2 || len(res.ConflictIDs) != 1 || res.ConflictIDs[0] != idN("conflict", 0) {
		t.Fatalf("below: %+v", res)
	}
	add(devA, 2)
	add(devA, 3)
	res, _ = Reveal(p, recs)
	if !res.AboveThreshold || len(res.Revealed) != p.T+1 || len(res.SyntheticIDs) != 0 ||
		len(res.ConflictIDs) != 1 || len(res.BadShareIDs) != 0 || res.ExcessSynthetic {
		t.Fatalf("above: %+v", res)
	}
}
