package psi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

const storeMagic = "VSST"

// MaxStoreRecords bounds the match records UnmarshalBinary accepts.
const MaxStoreRecords = 1 << 24

// AccountStore is the server's per-account state between reveals: counts of
// the vouchers seen and the match records (protocol.md §4.1: "non-match:
// record the id only; match: store the record"). Non-matching ids are
// counted, not kept. A record whose id is already stored with the same
// share is a retry and is not added again; one with a different share is
// kept, and [Reveal] flags the id as inconsistent.
type AccountStore struct {
	Vouchers   uint64 // vouchers processed, valid or not
	NonMatches uint64
	Invalid    uint64 // vouchers Match rejected
	Records    []*MatchRecord
}

// Add files one Match outcome: rec for a match, nil for a non-match, err
// for an invalid voucher. It reports whether rec was new.
func (s *AccountStore) Add(rec *MatchRecord, err error) bool {
	s.Vouchers++
	switch {
	case err != nil:
		s.Invalid++
		return false
	case rec == nil:
		s.NonMatches++
		return false
	}
	for _, r := range s.Records {
		if r.ID == rec.ID && sameShare(r, rec) {
			return false
		}
	}
	s.Records = append(s.Records, rec)
	return true
}

// Reveal runs Reveal over the stored records.
func (s *AccountStore) Reveal(p Params) (*RevealResult, error) {
	return Reveal(p, s.Records)
}

// MarshalBinary encodes the store:
// "VSST" ‖ version ‖ 0 0 0 ‖ vouchers(8) ‖ non-matches(8) ‖ invalid(8) ‖
// count(4) ‖ count × (BE32(len) ‖ match record), records sorted by id.
func (s *AccountStore) MarshalBinary() ([]byte, error) {
	b := []byte(storeMagic)
	b = append(b, FormatVersion, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, s.Vouchers)
	b = binary.BigEndian.AppendUint64(b, s.NonMatches)
	b = binary.BigEndian.AppendUint64(b, s.Invalid)
	recs := slices.Clone(s.Records)
	slices.SortStableFunc(recs, func(a, b *MatchRecord) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	b = binary.BigEndian.AppendUint32(b, uint32(len(recs)))
	for _, r := range recs {
		rb, err := r.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(rb)))
		b = append(b, rb...)
	}
	return b, nil
}

// UnmarshalBinary decodes a store written by MarshalBinary.
func (s *AccountStore) UnmarshalBinary(b []byte) error {
	if len(b) < 4 || string(b[:4]) != storeMagic {
		return fmt.Errorf("psi: store: %w", ErrMagic)
	}
	if len(b) < 36 {
		return fmt.Errorf("psi: store: %w", ErrLength)
	}
	if b[4] != FormatVersion || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return fmt.Errorf("psi: store: %w %d", ErrVersion, b[4])
	}
	var ns AccountStore
	ns.Vouchers = binary.BigEndian.Uint64(b[8:])
	ns.NonMatches = binary.BigEndian.Uint64(b[16:])
	ns.Invalid = binary.BigEndian.Uint64(b[24:])
	n := binary.BigEndian.Uint32(b[32:])
	if n > MaxStoreRecords {
		return fmt.Errorf("psi: store: %d records", n)
	}
	rest := b[36:]
	for i := uint32(0); i < n; i++ {
		if len(rest) < 4 {
			return fmt.Errorf("psi: store: record %d: %w", i, ErrLength)
		}
		l := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(len(rest)) < uint64(l) {
			return fmt.Errorf("psi: store: record %d: %w", i, ErrLength)
		}
		r := new(MatchRecord)
		if err := r.UnmarshalBinary(rest[:l]); err != nil {
			return fmt.Errorf("psi: store: record %d: %w", i, err)
		}
		rest = rest[l:]
		ns.Records = append(ns.Records, r)
	}
	if len(rest) != 0 {
		return fmt.Errorf("psi: store: %w: %d trailing bytes", ErrLength, len(rest))
	}
	*s = ns
	return nil
}

const streamMagic = "VSVS"

// MaxVoucherSize bounds a voucher in a stream (AD_LEN at its maximum, s at
// its maximum, d = 3).
const MaxVoucherSize = prefixSize + 3*pairSize + 8*(MaxS+1) + xSize + zSize + nonceSize + MaxADLen + 2*tagSize

// ErrCorruptFrame is wrapped by VoucherReader.Next for a frame that cannot
// be read; the reader cannot resynchronise after it.
var ErrCorruptFrame = errors.New("psi: corrupt voucher stream frame")
