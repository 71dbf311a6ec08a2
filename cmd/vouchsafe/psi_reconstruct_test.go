package main

import (
	"errors"
	"testing"

	"github.com/vouchsafe/vouchsafe/psi"
)

// The tally holds a re-sent record (same id, same share) once, whatever
// its ciphertext, and a record of the same id with another share as well,
// so that Reveal names the conflict.
func TestTally(t *testing.T) {
	rec := func(id byte, z byte, adct string) *psi.MatchRecord {
		r := &psi.MatchRecord{ID: psi.ID{id}, R: []uint64{1, 2, 3}, ADCT: []byte(adct)}
		r.X[0], r.Z[31] = 0x80, z
		return r
	}
	var st tally
	st.add(rec(1, 1, "a"), nil)
	st.add(rec(1, 1, "b"), nil) // retry: same share
	st.add(rec(2, 1, "a"), nil) // same share, other id
	st.add(rec(1, 2, "a"), nil) // conflict: other share
	st.add(nil, nil)
	st.add(nil, errors.New("bad voucher"))
	if st.vouchers != 6 || st.nonMatches != 1 || st.invalid != 1 || len(st.records) != 3 {
		t.Fatalf("tally: %d vouchers, %d non-matches, %d invalid, %d records", st.vouchers, st.nonMatches, st.invalid, len(st.records))
	}
	if string(st.records[0].ADCT) != "a" {
		t.Fatal("the retry replaced the first record")
	}
}
