package psi

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"slices"

	"github.com/vouchsafe/vouchsafe/tss"
)

// RevealResult is the output of the threshold step (protocol.md §4.2) for
// one account.
type RevealResult struct {
	// Threshold is t; the server decrypts only with RequiredMatches = t+1
	// distinct real matches.
	Threshold       int
	RequiredMatches int
	// Candidates is the number of distinct voucher ids among the matches:
	// real and synthetic together, indistinguishable below the threshold.
	Candidates int
	// CandidateIDs are those ids, sorted.
	CandidateIDs []ID
	// AboveThreshold is true when the real matches were identified and
	// their associated data decrypted.
	AboveThreshold bool
	// Revealed are the real matches with their associated data, sorted by
	// id; empty unless AboveThreshold.
	Revealed []RevealedMatch
	// SyntheticIDs are the ids none of whose records is real, sorted;
	// empty unless AboveThreshold.
	SyntheticIDs []ID
	// ConflictIDs are ids that arrived with two or more different shares
	// or DHF values, sorted. Each distinct record still takes part (a real
	// one is revealed). An honest client with one account file never
	// causes a conflict; two devices whose copies of the account file grew
	// different synthetic sets do (protocol.md §4.2). Reported at any
	// count: the server sees the conflict either way.
	ConflictIDs []ID
	// MalformedIDs are ids whose records do not fit the parameters (a DHF
	// vector not of s+1 values, a value out of range), sorted; such
	// records are left out.
	MalformedIDs []ID
	// BadShareIDs are ids identified as real whose Shamir share is not on
	// the decoded polynomial (a corrupt or malicious voucher), sorted. Their
	// associated data is still revealed if it opens.
	BadShareIDs []ID
	// InvalidAD are ids identified as real whose associated data does not
	// open under the reconstructed key (invalid vouchers), sorted.
	InvalidAD []ID
	// Undecodable is set when more than t real matches were identified but
	// their shares disagree beyond what decoding corrects (more than
	// ⌊(m−t−1)/2⌋ bad shares among m): nothing is revealed, and the
	// account's client is faulty or malicious.
	Undecodable bool
	// ExcessSynthetic is set when the detector's answer spans more than
	// the real matches' t dimensions: more than s synthetic matches
	// (protocol.md §4.5) or malformed DHF values, i.e. a malicious client.
	// It is never set for bad shares among correctly identified real
	// matches (see Undecodable and BadShareIDs).
	ExcessSynthetic bool
}

// RevealedMatch is a decrypted real match.
type RevealedMatch struct {
	ID   ID
	DBID DBID
	// AD is the associated data plaintext (Params.ADLen bytes); see Hash
	// and Derivative.
	AD []byte
}

// Hash returns the perceptual hash carried in the associated data.
func (m *RevealedMatch) Hash() (Hash, error) {
	h, _, err := splitAD(m.AD)
	return h, err
}

// Derivative returns the visual derivative bytes carried in the associated
// data (empty when the client sent none).
func (m *RevealedMatch) Derivative() ([]byte, error) {
	_, d, err := splitAD(m.AD)
	return d, err
}

func splitAD(ad []byte) (Hash, []byte, error) {
	var h Hash
	if len(ad) < MinADLen {
		return h, nil, fmt.Errorf("psi: associated data: %w: %d bytes", ErrLength, len(ad))
	}
	n := int(binary.BigEndian.Uint16(ad))
	if n > len(ad)-MinADLen {
		return h, nil, fmt.Errorf("psi: associated data: derivative length %d exceeds %d", n, len(ad)-MinADLen)
	}
	copy(h[:], ad[2:])
	return h, ad[MinADLen : MinADLen+n], nil
}

// recoverTries bounds the (s+t+1)-column subsets tried when detection
// gives a wrong answer (protocol.md §4.5).
const recoverTries = 16

// outcome is the result of one detection attempt.
type outcome int

const (
	noKernel  outcome = iota // at most t real columns: below the threshold
	excess                   // the kernel spans more than the real columns
	undecoded                // real columns found; shares not decodable
	revealed                 // done
)

// Reveal runs the threshold step over all match records of one account (any
// epochs) under p's threshold t = p.T and DHF capacity s = p.S (p.ADLen is
// not used: each record carries its own). It is a pure function of t, s and
// the set of records (their order does not matter). With at most t distinct real matches it returns only the
// candidate count and ids; with t+1 or more real ones and at most s
// synthetic ones it decrypts exactly the real matches and names the
// synthetic ones. The real shares are decoded with error correction
// (tss.Decode), so a few corrupt shares among many real ones are named in
// BadShareIDs rather than stopping the reveal. It returns an error only for
// invalid t or s.
func Reveal(p Params, records []*MatchRecord) (*RevealResult, error) {
	t, s := p.T, p.S
	if t < 1 || t > MaxT || s < 1 || s > MaxS {
		return nil, fmt.Errorf("psi: reveal: t=%d, s=%d out of range", t, s)
	}
	res := &RevealResult{Threshold: t, RequiredMatches: t + 1}

	// Canonical order: by id, then by encoding.
	recs := slices.Clone(records)
	recs = slices.DeleteFunc(recs, func(r *MatchRecord) bool { return r == nil })
	slices.SortFunc(recs, func(a, b *MatchRecord) int {
		if c := bytes.Compare(a.ID[:], b.ID[:]); c != 0 {
			return c
		}
		return bytes.Compare(recordKey(a), recordKey(b))
	})

	// Distinct records per id. Malformed ones are left out; an id with two
	// or more distinct well-formed records is a conflict, and every one of
	// them takes part below.
	var ids []ID
	var distinct []*MatchRecord
	conflict, malformed := map[ID]bool{}, map[ID]bool{}
	for i, r := range recs {
		if i == 0 || r.ID != recs[i-1].ID {
			ids = append(ids, r.ID)
		}
		if len(r.R) != s+1 || r.X[0]&0x80 == 0 || !scalarInRange(r.Z[:]) || !rInRange(r.R) {
			malformed[r.ID] = true
			continue
		}
		dup := false
		for j := len(distinct) - 1; j >= 0 && distinct[j].ID == r.ID; j-- {
			if distinct[j].SameShare(r) {
				dup = true
				break
			}
			conflict[r.ID] = true
		}
		if !dup {
			distinct = append(distinct, r)
		}
	}
	res.Candidates = len(ids)
	res.CandidateIDs = ids
	res.ConflictIDs = setIDs(conflict)
	res.MalformedIDs = setIDs(malformed)

	// Usable records: one per distinct share (x, z).
	var uniq []*MatchRecord
	seenShare := map[[xSize + zSize]byte]bool{}
	for _, r := range distinct {
		var k [xSize + zSize]byte
		copy(k[:], r.X[:])
		copy(k[xSize:], r.Z[:])
		if seenShare[k] {
			continue
		}
		seenShare[k] = true
		uniq = append(uniq, r)
	}
	if len(uniq) <= t {
		return res, nil
	}

	// Columns: the distinct r values.
	var cols [][]tss.Elem
	colOf := make([]int, len(uniq))
	colIdx := map[string]int{}
	for i, r := range uniq {
		k := string(rBytes(r.R))
		c, ok := colIdx[k]
		if !ok {
			c = len(cols)
			colIdx[k] = c
			cols = append(cols, r.R)
		}
		colOf[i] = c
	}
	attempt := func(colSet []int) outcome {
		sub := make([][]tss.Elem, len(colSet))
		for i, c := range colSet {
			sub[i] = cols[c]
		}
		sel, err := tss.Detect(sub, t, s)
		if err != nil {
			return noKernel
		}
		isReal := make([]bool, len(cols))
		found := make([][]tss.Elem, 0, len(sel))
		for _, i := range sel {
			isReal[colSet[i]] = true
			found = append(found, cols[colSet[i]])
		}
		// Real columns span exactly t dimensions; more means the kernel
		// also covered random columns (more than s of them, §4.5).
		if rk, err := tss.Rank(found, t, s); err != nil || rk != t {
			return excess
		}
		// Columns outside the decoded subset are real iff they stay in
		// the span of t of the found ones.
		if len(colSet) < len(cols) {
			basis := found[:t]
			inSet := make([]bool, len(cols))
			for _, c := range colSet {
				inSet[c] = true
			}
			for c := range cols {
				if inSet[c] {
					continue
				}
				if rk, err := tss.Rank(append(slices.Clone(basis), cols[c]), t, s); err == nil && rk == t {
					isReal[c] = true
				}
			}
		}
		var real []*MatchRecord
		for i, r := range uniq {
			if isReal[colOf[i]] {
				real = append(real, r)
			}
		}
		if !openReal(res, t, real) {
			return undecoded
		}
		return revealed
	}
	all := make([]int, len(cols))
	for i := range all {
		all[i] = i
	}
	switch attempt(all) {
	case revealed, noKernel:
		return res, nil
	case undecoded:
		res.Undecodable = true
		return res, nil
	}
	// The kernel covered random columns: more than s synthetic matches.
	// With more than s+t+1 columns, try random (s+t+1)-subsets, each of
	// which decodes when it holds ≥ t+1 real columns and ≤ s random ones
	// (protocol.md §4.5).
	res.ExcessSynthetic = true
	if len(cols) > s+t+1 {
		rng := mrand.New(mrand.NewChaCha8(sha256.Sum256(idsBytes(ids))))
		for try := 0; try < recoverTries; try++ {
			perm := rng.Perm(len(cols))[:s+t+1]
			slices.Sort(perm)
			switch attempt(perm) {
			case revealed:
				return res, nil
			case undecoded:
				res.Undecodable = true
				return res, nil
			}
		}
	}
	return res, nil
}

// openReal decodes adkey from the real records' shares, correcting wrong
// ones (tss.Decode), and opens every real record's associated data. On
// success it fills res and returns true; it returns false when the shares
// cannot be decoded or the decoded key opens nothing.
func openReal(res *RevealResult, t int, real []*MatchRecord) bool {
	if len(real) < t+1 {
		return false
	}
	if openDecoded(res, t, real) {
		return true
	}
	// Records that repeat an x-coordinate (one id with two shares, a
	// conflict) enter the decoding first-come; give the others their turn.
	xs := map[[xSize]byte]bool{}
	clash := false
	for _, r := range real {
		clash = clash || xs[r.X]
		xs[r.X] = true
	}
	if !clash {
		return false
	}
	rev := slices.Clone(real)
	slices.Reverse(rev)
	return openDecoded(res, t, rev)
}

// openDecoded is one decoding attempt of openReal with the records in the
// given order.
func openDecoded(res *RevealResult, t int, real []*MatchRecord) bool {
	shares := make([]tss.Share, len(real))
	for i, r := range real {
		shares[i] = tss.Share{X: r.X, Z: r.Z}
	}
	a0, bad, err := tss.Decode(t, shares)
	if err != nil {
		return false
	}
	adkey, err := hkdf.Key(sha256.New, a0[:], []byte("VOUCHSAFE-V01 adkey"), "", 32)
	clear(a0[:])
	if err != nil {
		return false
	}
	g := newGCM(adkey)
	clear(adkey)
	var opened []RevealedMatch
	var invalid []ID
	done := map[ID]bool{}
	for _, r := range real {
		if done[r.ID] {
			continue // a conflicting id whose other record opened
		}
		if len(r.ADCT) < nonceSize+tagSize {
			invalid = append(invalid, r.ID)
			continue
		}
		ad, err := g.Open(nil, r.ADCT[:nonceSize], r.ADCT[nonceSize:], adAD(&r.ID))
		if err != nil {
			invalid = append(invalid, r.ID)
			continue
		}
		done[r.ID] = true
		opened = append(opened, RevealedMatch{ID: r.ID, DBID: r.DBID, AD: ad})
	}
	if len(opened) == 0 {
		return false // a polynomial within reach of the shares, not the client's
	}
	invalid = slices.DeleteFunc(invalid, func(id ID) bool { return done[id] })
	slices.SortFunc(opened, func(a, b RevealedMatch) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	isReal := map[ID]bool{}
	for _, r := range real {
		isReal[r.ID] = true
	}
	badIDs := map[ID]bool{}
	for _, i := range bad {
		badIDs[real[i].ID] = true
	}
	res.AboveThreshold = true
	res.Revealed = opened
	res.InvalidAD = invalid
	sortIDs(res.InvalidAD)
	res.BadShareIDs = setIDs(badIDs)
	res.SyntheticIDs = nil
	for _, id := range res.CandidateIDs {
		if !isReal[id] {
			res.SyntheticIDs = append(res.SyntheticIDs, id)
		}
	}
	return true
}

// setIDs returns the ids of a set, sorted (nil when empty).
func setIDs(m map[ID]bool) []ID {
	var out []ID
	for id := range m {
		out = append(out, id)
	}
	sortIDs(out)
	return out
}

func rInRange(r []uint64) bool {
	for _, e := range r {
		if e >= tss.Modulus {
			return false
		}
	}
	return true
}

func rBytes(r []uint64) []byte {
	b := make([]byte, 0, 8*len(r))
	for _, e := range r {
		b = binary.BigEndian.AppendUint64(b, e)
	}
	return b
}

func recordKey(r *MatchRecord) []byte {
	b, err := r.MarshalBinary()
	if err != nil {
		return nil
	}
	return b
}

func idsBytes(ids []ID) []byte {
	b := make([]byte, 0, IDSize*len(ids))
	for _, id := range ids {
		b = append(b, id[:]...)
	}
	return b
}

func sortIDs(ids []ID) {
	slices.SortFunc(ids, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
}
