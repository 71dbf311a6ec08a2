package psi

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
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
	// SyntheticIDs are the synthetic ids, sorted; empty unless AboveThreshold.
	SyntheticIDs []ID
	// Inconsistent are ids that came with different shares or DHF values
	// (a client whose devices disagree, or a malicious one), sorted.
	Inconsistent []ID
	// InvalidAD are ids identified as real whose associated data does not
	// open under the reconstructed key (invalid vouchers), sorted.
	InvalidAD []ID
	// ExcessSynthetic is set when the detector's answer did not yield a key
	// that opens any real associated data: more than s synthetic matches
	// (protocol.md §4.5) or a malicious client.
	ExcessSynthetic bool
}

// RevealedMatch is a decrypted real match.
type RevealedMatch struct {
	ID   ID
	DBID DBID
	// AD is the associated data plaintext (Params.ADLen bytes); see
	// DecodeAD, Hash and Derivative.
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

// recoverTries bounds the (t+1)-subsets tried when a reconstructed key does
// not open, and the (s+t+1)-column subsets tried when detection gives a
// wrong answer (protocol.md §4.5).
const recoverTries = 16

// Reveal runs the threshold step over all match records of one account (any
// epochs). It is a pure function of t, s and the set of records (their order
// does not matter). With at most t distinct real matches it returns only the
// candidate count and ids; with t+1 or more real ones and at most s
// synthetic ones it decrypts exactly the real matches and names the
// synthetic ones. Records whose shape does not fit s are reported as
// inconsistent. It returns an error only for invalid t or s.
func Reveal(t, s int, records []*MatchRecord) (*RevealResult, error) {
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

	// Dedupe by id; flag ids whose share or r disagree, and malformed ones.
	inconsistent := map[ID]bool{}
	byID := map[ID]*MatchRecord{}
	var ids []ID
	for _, r := range recs {
		if prev, ok := byID[r.ID]; ok {
			if !sameShare(prev, r) {
				inconsistent[r.ID] = true
			}
			continue
		}
		byID[r.ID] = r
		ids = append(ids, r.ID)
		if len(r.R) != s+1 || r.X[0]&0x80 == 0 || !scalarInRange(r.Z[:]) || !rInRange(r.R) {
			inconsistent[r.ID] = true
		}
	}
	res.Candidates = len(ids)
	res.CandidateIDs = ids
	for id := range inconsistent {
		res.Inconsistent = append(res.Inconsistent, id)
	}
	sortIDs(res.Inconsistent)

	// Usable records: consistent ids, one per distinct share (x, z).
	var uniq []*MatchRecord
	seenShare := map[[xSize + zSize]byte]bool{}
	for _, id := range ids {
		if inconsistent[id] {
			continue
		}
		r := byID[id]
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
	// x₀ must be distinct across columns for the Vandermonde rows; equal x₀
	// with different r cannot both be real (a malformed client).
	rng := mrand.New(mrand.NewChaCha8(sha256.Sum256(idsBytes(ids))))
	attempt := func(colSet []int) bool {
		sub := make([][]tss.Elem, len(colSet))
		for i, c := range colSet {
			sub[i] = cols[c]
		}
		sel, err := tss.Detect(sub, t, s)
		if err != nil {
			return false
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
			return false
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
		return openReal(res, t, real, uniq, rng)
	}
	all := make([]int, len(cols))
	for i := range all {
		all[i] = i
	}
	if attempt(all) {
		return res, nil
	}
	// Detection found no kernel: at most t real matches (or a detector
	// answer that opened nothing). With more than s+t+1 columns, try
	// random (s+t+1)-subsets, each of which decodes when it holds ≥ t+1
	// real columns and ≤ s random ones (protocol.md §4.5).
	if _, err := tss.Detect(cols, t, s); err == nil {
		res.ExcessSynthetic = true
	}
	if len(cols) > s+t+1 {
		for try := 0; try < recoverTries; try++ {
			perm := rng.Perm(len(cols))[:s+t+1]
			slices.Sort(perm)
			if attempt(perm) {
				return res, nil
			}
		}
	}
	return res, nil
}

// openReal reconstructs adkey from t+1 of the real records and opens every
// real record's associated data. On success it fills res and returns true.
func openReal(res *RevealResult, t int, real, all []*MatchRecord, rng *mrand.Rand) bool {
	if len(real) < t+1 {
		return false
	}
	order := make([]int, len(real))
	for i := range order {
		order[i] = i
	}
	for try := 0; try < recoverTries; try++ {
		if try > 0 {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		shares := make([]tss.Share, 0, t+1)
		for _, i := range order {
			sh := tss.Share{X: real[i].X, Z: real[i].Z}
			if slices.ContainsFunc(shares, func(o tss.Share) bool { return o.X == sh.X }) {
				continue
			}
			shares = append(shares, sh)
			if len(shares) == t+1 {
				break
			}
		}
		if len(shares) < t+1 {
			return false
		}
		a0, err := tss.Recover(t, shares)
		if err != nil {
			return false
		}
		adkey, err := hkdf.Key(sha256.New, a0[:], []byte("VOUCHSAFE-V01 adkey"), "", 32)
		if err != nil {
			return false
		}
		g := newGCM(adkey)
		var revealed []RevealedMatch
		var invalid []ID
		for _, r := range real {
			if len(r.ADCT) < nonceSize+tagSize {
				invalid = append(invalid, r.ID)
				continue
			}
			ad, err := g.Open(nil, r.ADCT[:nonceSize], r.ADCT[nonceSize:], adAD(&r.ID))
			if err != nil {
				invalid = append(invalid, r.ID)
				continue
			}
			revealed = append(revealed, RevealedMatch{ID: r.ID, DBID: r.DBID, AD: ad})
		}
		if len(revealed) == 0 {
			continue // a wrong share among the t+1: try another subset
		}
		isReal := map[ID]bool{}
		for _, r := range real {
			isReal[r.ID] = true
		}
		res.AboveThreshold = true
		res.Revealed = revealed
		res.InvalidAD = invalid
		sortIDs(res.InvalidAD)
		res.SyntheticIDs = nil
		for _, id := range res.CandidateIDs {
			if !isReal[id] {
				res.SyntheticIDs = append(res.SyntheticIDs, id)
			}
		}
		return true
	}
	return false
}

func sameShare(a, b *MatchRecord) bool {
	return a.X == b.X && a.Z == b.Z && slices.Equal(a.R, b.R)
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

// ErrNoDerivative is returned by DecodeAD when the associated data carries
// only the hash.
var ErrNoDerivative = errors.New("psi: associated data has no visual derivative")
