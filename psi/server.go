package psi

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"

	"filippo.io/nistec"
	"golang.org/x/sync/errgroup"

	"github.com/vouchsafe/vouchsafe/internal/p256"
	"github.com/vouchsafe/vouchsafe/tss"
)

// maxD is the largest number of cuckoo functions (and pairs per voucher).
const maxD = 3

// Server tests vouchers against the tables of one or more epochs, each with
// its [ServerKey] (protocol.md §4.1). It is safe for concurrent use once built.
type Server struct {
	keys map[DBID]*ServerKey
}

// NewServer returns a server holding the given epoch keys. Their db_ids
// must be distinct.
func NewServer(keys ...*ServerKey) (*Server, error) {
	s := &Server{keys: make(map[DBID]*ServerKey)}
	for _, k := range keys {
		if err := s.AddKey(k); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// AddKey adds an epoch. It must not run concurrently with Match.
func (s *Server) AddKey(k *ServerKey) error {
	if _, dup := s.keys[k.dbid]; dup {
		return fmt.Errorf("psi: two keys for db_id %s", k.dbid)
	}
	s.keys[k.dbid] = k
	return nil
}

// Params returns the t and s shared by every epoch (with the first epoch's
// AD_LEN), for Reveal; epochs that disagree on t or s are an error, since
// their matches cannot add up toward one threshold.
func (s *Server) Params() (Params, error) {
	var p Params
	first := true
	for _, k := range s.keys {
		switch {
		case first:
			p, first = k.params, false
		case k.params.T != p.T || k.params.S != p.S:
			a, b := p, k.params
			if b.T < a.T || (b.T == a.T && b.S < a.S) {
				a, b = b, a // the smaller first, whatever the epochs' order
			}
			return Params{}, fmt.Errorf("psi: epochs disagree: t=%d, s=%d and t=%d, s=%d", a.T, a.S, b.T, b.S)
		}
	}
	if first {
		return Params{}, errors.New("psi: server has no epoch keys")
	}
	return p, nil
}

// Key returns the key of an epoch.
func (s *Server) Key(id DBID) (*ServerKey, bool) {
	k, ok := s.keys[id]
	return k, ok
}

// Errors from Match. All of them mean the voucher is invalid; ErrDoubleMatch
// and ErrInnerLayer come from a voucher whose outer layer opened, i.e. from a
// malformed or malicious client (protocol.md §4.1 step 3).
var (
	ErrUnknownEpoch = errors.New("psi: voucher names an unknown db_id")
	ErrDoubleMatch  = errors.New("psi: voucher opens under more than one pair")
	ErrInnerLayer   = errors.New("psi: voucher's inner layer does not open or parse")
)

// Match runs the per-voucher test of protocol.md §4.1. It returns
// (record, nil) for a match, (nil, nil) for a non-match, and (nil, err) for
// an invalid voucher (wrong format, unknown epoch, invalid point, two pairs
// opening, bad inner layer). The work does not depend on which pair opens.
func (s *Server) Match(v []byte) (*MatchRecord, error) {
	rec, _, err := s.match(v)
	return rec, err
}

// match is Match that also returns the bit mask of the pairs that opened.
func (s *Server) match(v []byte) (*MatchRecord, int, error) {
	h, err := ParseVoucherHeader(v)
	if err != nil {
		return nil, 0, err
	}
	k, ok := s.keys[h.DBID]
	if !ok {
		return nil, 0, fmt.Errorf("%w %s", ErrUnknownEpoch, h.DBID)
	}
	p := k.params
	if want := p.VoucherSize(k.d); len(v) != want {
		return nil, 0, fmt.Errorf("psi: voucher: %w: %d bytes, want %d", ErrLength, len(v), want)
	}
	prefix := v[:prefixSize]
	// Decode every Q_j first: SetBytes checks the encoding and that the
	// point is on the curve (a compressed encoding is never the identity).
	var qs [maxD]nistec.P256Point
	for j := 0; j < k.d; j++ {
		encQ := v[prefixSize+j*pairSize:][:pointSize]
		if encQ[0] != 2 && encQ[0] != 3 {
			return nil, 0, fmt.Errorf("psi: voucher pair %d: %w", j, ErrPoint)
		}
		if _, err := qs[j].SetBytes(encQ); err != nil {
			return nil, 0, fmt.Errorf("psi: voucher pair %d: %w", j, ErrPoint)
		}
	}
	// Ŝ_j = α·Q_j (constant time in α and Q_j), then the encodings of all
	// the Ŝ_j at the cost of one field inversion.
	var shs [maxD]*nistec.P256Point
	for j := 0; j < k.d; j++ {
		if _, err := qs[j].ScalarMult(&qs[j], k.alpha[:]); err != nil {
			return nil, 0, err
		}
		shs[j] = &qs[j]
	}
	var encS [maxD][pointSize]byte
	if err := p256.CompressBatch(encS[:k.d], shs[:k.d]); err != nil {
		return nil, 0, err // α ≠ 0 mod q and Q_j ≠ O: cannot happen
	}
	opened, mask := 0, 0
	var rkey, out [keySize]byte
	for j := 0; j < k.d; j++ {
		pair := v[prefixSize+j*pairSize:][:pairSize]
		kj := outerKey(encS[j][:], prefix, pair[:pointSize])
		_, err := newGCM(kj[:]).Open(out[:0], zeroNonce[:], pair[pointSize:], prefix)
		clear(kj[:])
		ok := 0
		if err == nil {
			ok = 1
		}
		subtle.ConstantTimeCopy(ok, rkey[:], out[:])
		opened += ok
		mask |= ok << j
	}
	clear(encS[:])
	clear(out[:])
	if opened == 0 {
		return nil, 0, nil
	}
	if opened > 1 {
		return nil, mask, ErrDoubleMatch
	}
	inner, err := newGCM(rkey[:]).Open(nil, zeroNonce[:], v[prefixSize+k.d*pairSize:], prefix)
	clear(rkey[:])
	if err != nil {
		return nil, mask, ErrInnerLayer
	}
	rec, err := parseInner(inner, p)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrInnerLayer, err)
	}
	rec.DBID, rec.ID = h.DBID, h.ID
	return rec, mask, nil
}

func parseInner(inner []byte, p Params) (*MatchRecord, error) {
	if len(inner) != p.innerSize() {
		return nil, ErrLength
	}
	rec := &MatchRecord{R: make([]tss.Elem, p.S+1)}
	off := 0
	for i := range rec.R {
		rec.R[i] = binary.BigEndian.Uint64(inner[off:])
		if rec.R[i] >= tss.Modulus {
			return nil, fmt.Errorf("DHF value %d not below ℓ", i)
		}
		off += 8
	}
	off += copy(rec.X[:], inner[off:])
	off += copy(rec.Z[:], inner[off:])
	if rec.X[0]&0x80 == 0 {
		return nil, tss.ErrZeroX
	}
	if !scalarInRange(rec.Z[:]) {
		return nil, tss.ErrScalarRange
	}
	rec.ADCT = inner[off:len(inner):len(inner)] // inner is a fresh buffer of Match's
	return rec, nil
}

// MatchResult is the outcome of one voucher in MatchBatch.
type MatchResult struct {
	// Header is valid unless the voucher's first 32 bytes were malformed
	// (then Err is set and Header is zero).
	Header VoucherHeader
	// Record is the match record, nil for a non-match or an invalid voucher.
	Record *MatchRecord
	// Err is non-nil for an invalid voucher.
	Err error
}

// MatchBatch runs Match on every voucher using workers goroutines
// (GOMAXPROCS if workers ≤ 0); results are in input order. An invalid
// voucher gets its error and does not stop the others.
func (s *Server) MatchBatch(vs [][]byte, workers int) []MatchResult {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([]MatchResult, len(vs))
	// An invalid voucher is a result, not a failure of the batch: no
	// goroutine returns an error, so none cancels the others.
	var g errgroup.Group
	g.SetLimit(workers)
	for i := range vs {
		g.Go(func() error {
			out[i].Header, _ = ParseVoucherHeader(vs[i])
			out[i].Record, out[i].Err = s.Match(vs[i])
			return nil
		})
	}
	g.Wait()
	return out
}

const recordMagic = "VSMR"

// MatchRecord is what the server keeps of a matching voucher (protocol.md
// §4.1): its epoch, id, DHF value r, Shamir share (x, z) and the encrypted
// associated data. It holds no key; only Reveal, with t+1 real shares, can
// open ADCT.
type MatchRecord struct {
	DBID DBID
	ID   ID
	R    []uint64    // s+1 DHF values, each < ℓ
	X    [xSize]byte // share x-coordinate, top bit set
	Z    [zSize]byte // share value, < q
	ADCT []byte      // adnonce ‖ AES-256-GCM(adkey, AD) ‖ tag
}

// SameShare reports whether o is a retry of r: the same id with the same
// share (x, z and DHF values). Reveal counts such records once; a server
// that keeps records between reveals can drop o. Records with the same id
// and different shares are a conflict, not a retry.
func (r *MatchRecord) SameShare(o *MatchRecord) bool {
	return r.ID == o.ID && r.X == o.X && r.Z == o.Z && slices.Equal(r.R, o.R)
}

// MarshalBinary encodes the record:
// "VSMR" ‖ version ‖ 0 ‖ BE16(s+1) ‖ db_id ‖ id ‖ r ‖ x ‖ z ‖ BE32(len(adct)) ‖ adct.
func (r *MatchRecord) MarshalBinary() ([]byte, error) {
	if len(r.R) < 2 || len(r.R) > MaxS+1 {
		return nil, fmt.Errorf("psi: match record has %d DHF values", len(r.R))
	}
	b := make([]byte, 0, 8+DBIDSize+IDSize+8*len(r.R)+xSize+zSize+4+len(r.ADCT))
	b = append(b, recordMagic...)
	b = append(b, FormatVersion, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.R)))
	b = append(b, r.DBID[:]...)
	b = append(b, r.ID[:]...)
	for _, e := range r.R {
		b = binary.BigEndian.AppendUint64(b, e)
	}
	b = append(b, r.X[:]...)
	b = append(b, r.Z[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.ADCT)))
	b = append(b, r.ADCT...)
	return b, nil
}

// UnmarshalBinary decodes a record and checks every field's range.
func (r *MatchRecord) UnmarshalBinary(b []byte) error {
	rest, err := r.unmarshal(b)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("psi: match record: %w: %d trailing bytes", ErrLength, len(rest))
	}
	return nil
}

func (r *MatchRecord) unmarshal(b []byte) ([]byte, error) {
	if len(b) < 4 || string(b[:4]) != recordMagic {
		return nil, fmt.Errorf("psi: match record: %w", ErrMagic)
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("psi: match record: %w", ErrLength)
	}
	if b[4] != FormatVersion || b[5] != 0 {
		return nil, fmt.Errorf("psi: match record: %w %d", ErrVersion, b[4])
	}
	nr := int(binary.BigEndian.Uint16(b[6:]))
	if nr < 2 || nr > MaxS+1 {
		return nil, fmt.Errorf("psi: match record: %d DHF values", nr)
	}
	fixed := 8 + DBIDSize + IDSize + 8*nr + xSize + zSize + 4
	if len(b) < fixed {
		return nil, fmt.Errorf("psi: match record: %w", ErrLength)
	}
	var nrec MatchRecord
	off := 8
	off += copy(nrec.DBID[:], b[off:])
	off += copy(nrec.ID[:], b[off:])
	nrec.R = make([]uint64, nr)
	for i := range nrec.R {
		nrec.R[i] = binary.BigEndian.Uint64(b[off:])
		if nrec.R[i] >= tss.Modulus {
			return nil, fmt.Errorf("psi: match record: DHF value %d not below ℓ", i)
		}
		off += 8
	}
	off += copy(nrec.X[:], b[off:])
	off += copy(nrec.Z[:], b[off:])
	if nrec.X[0]&0x80 == 0 {
		return nil, fmt.Errorf("psi: match record: %w", tss.ErrZeroX)
	}
	if !scalarInRange(nrec.Z[:]) {
		return nil, fmt.Errorf("psi: match record: %w", tss.ErrScalarRange)
	}
	n := binary.BigEndian.Uint32(b[off:])
	off += 4
	if n < nonceSize+MinADLen+tagSize || n > nonceSize+MaxADLen+tagSize || uint64(len(b)-off) < uint64(n) {
		return nil, fmt.Errorf("psi: match record: %w: adct of %d bytes", ErrLength, n)
	}
	nrec.ADCT = append([]byte(nil), b[off:off+int(n)]...)
	*r = nrec
	return b[off+int(n):], nil
}
