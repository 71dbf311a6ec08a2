package psi

import (
	"bytes"
	"testing"
)

var small = Params{T: 3, S: 6, ADLen: 64}

func TestMatchAndReveal(t *testing.T) {
	f := newFixture(t, "basic", small, 50)
	c := f.client(t, 0)
	rnd := drbg("basic/vouchers")
	var recs []*MatchRecord
	for i := 0; i < 6; i++ {
		tr := Triple{Hash: f.members[i], ID: idN("basic", i), Derivative: []byte{byte(i), 2, 3}}
		v, err := c.Voucher(rnd, &tr)
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != small.VoucherSize(2) {
			t.Fatalf("voucher length %d", len(v))
		}
		rec, err := f.server.Match(v)
		if err != nil || rec == nil {
			t.Fatalf("member %d: rec %v err %v", i, rec, err)
		}
		recs = append(recs, rec)
		// Non-member.
		tr.Hash = hashN("nonmember", i)
		v, err = c.Voucher(rnd, &tr)
		if err != nil {
			t.Fatal(err)
		}
		if rec, err := f.server.Match(v); err != nil || rec != nil {
			t.Fatalf("non-member %d: rec %v err %v", i, rec, err)
		}
	}
	res, err := Reveal(small, recs[:3])
	if err != nil {
		t.Fatal(err)
	}
	if res.AboveThreshold || res.Candidates != 3 || len(res.Revealed) != 0 {
		t.Fatalf("below threshold: %+v", res)
	}
	res, err = Reveal(small, recs)
	if err != nil {
		t.Fatal(err)
	}
	if !res.AboveThreshold || len(res.Revealed) != 6 {
		t.Fatalf("above threshold: %+v", res)
	}
	for _, m := range res.Revealed {
		h, _ := m.Hash()
		d, _ := m.Derivative()
		found := false
		for i := 0; i < 6; i++ {
			if m.ID == idN("basic", i) {
				found = true
				if h != f.members[i] || !bytes.Equal(d, []byte{byte(i), 2, 3}) {
					t.Errorf("match %d: wrong AD", i)
				}
			}
		}
		if !found {
			t.Errorf("unknown id %s", m.ID)
		}
	}
}
