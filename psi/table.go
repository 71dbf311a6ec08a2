package psi

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"filippo.io/nistec"
	"golang.org/x/sync/errgroup"

	"github.com/vouchsafe/vouchsafe/internal/p256"
)

// Domain-separation tags and labels (protocol.md §5.2).
const (
	dstH        = "VOUCHSAFE-V01-CS01-with-P256_XMD:SHA-256_SSWU_RO_"
	dstEmpty    = "VOUCHSAFE-V01-EMPTYSLOT-P256_XMD:SHA-256"
	cuckooLabel = "VOUCHSAFE-V01-CUCKOO"
)

const (
	tableMagic = "VSDB"
	nonceLen   = 16
	// MaxKicks bounds the random walk of one cuckoo insertion (protocol.md §2.1).
	MaxKicks = 1000
	// DefaultLoad is the cuckoo table load for d = 2 (protocol.md §2.1).
	DefaultLoad = 0.45
	// MaxSlots bounds n' so that a table stays addressable (2^32 slots, 141 GB).
	MaxSlots = 1 << 32
)

// tableHeaderSize is the header length for d cuckoo functions: 56 + 16·d
// bytes of fields, then L.
func tableHeaderSize(d int) int { return 56 + nonceLen*d + pointSize }

// Table is a parsed blinded table (pdata, protocol.md §5.7), version 1
// with t, s and AD_LEN in the header (the threshold is published with the
// table and covered by its root hash):
//
//	0   4   magic "VSDB"
//	4   1   version 0x01
//	5   1   suite 0x01
//	6   1   d, the number of cuckoo functions (2 or 3)
//	7   1   reserved, 0
//	8   8   epoch
//	16  8   n, elements inserted
//	24  8   n', slots
//	32  2   t
//	34  2   s
//	36  4   AD_LEN
//	40  16  nonce_H
//	56  16d nonce_1 … nonce_d
//	56+16d  33  L = α·G
//	89+16d  33·n'  P_0 … P_{n'−1}
//
// All integers are big-endian and all points SEC1-compressed. The header is
// 121 bytes for d = 2.
type Table struct {
	raw    []byte
	d      int
	epoch  uint64
	n      uint64
	slots  uint64
	params Params
	nonceH []byte
	nonces [][]byte
	l      *nistec.P256Point
	lMul   func() *p256.FixedBase // multiples of l for vouchers, built on first use
	root   [32]byte
}

// D is the number of cuckoo functions.
func (t *Table) D() int { return t.d }

// Epoch is the table's database version.
func (t *Table) Epoch() uint64 { return t.epoch }

// Len is n, the number of hashes inserted.
func (t *Table) Len() uint64 { return t.n }

// Slots is n', the number of slots.
func (t *Table) Slots() uint64 { return t.slots }

// Load is n/n'.
func (t *Table) Load() float64 { return float64(t.n) / float64(t.slots) }

// Params are t, s and AD_LEN published in the header.
func (t *Table) Params() Params { return t.params }

// Root is the Merkle tree hash of the table (protocol.md §2.3).
func (t *Table) Root() [32]byte { return t.root }

// DBID is Root()[0:8].
func (t *Table) DBID() DBID { var d DBID; copy(d[:], t.root[:DBIDSize]); return d }

// FileDigest is the plain SHA-256 of the table file.
func (t *Table) FileDigest() [32]byte { return sha256.Sum256(t.raw) }

// Bytes returns the table file. The caller must not modify it.
func (t *Table) Bytes() []byte { return t.raw }

// HeaderSize is the length of everything before P_0.
func (t *Table) HeaderSize() int { return tableHeaderSize(t.d) }

func (t *Table) slotBytes(i uint64) []byte {
	off := uint64(t.HeaderSize()) + i*pointSize
	return t.raw[off : off+pointSize]
}

// point decodes slot i.
func (t *Table) point(i uint64) (*nistec.P256Point, error) {
	p, err := decodePoint(t.slotBytes(i))
	if err != nil {
		return nil, fmt.Errorf("psi: table slot %d: %w", i, err)
	}
	return p, nil
}

// decodePoint accepts only the 33-byte compressed encoding of a point on the
// curve (which cannot encode the identity).
func decodePoint(b []byte) (*nistec.P256Point, error) {
	if len(b) != pointSize || (b[0] != 2 && b[0] != 3) {
		return nil, ErrPoint
	}
	p, err := nistec.NewP256Point().SetBytes(b)
	if err != nil {
		return nil, ErrPoint
	}
	return p, nil
}

// slotsOf returns the d pairwise distinct slots of y (protocol.md §2.1 step 5).
func slotsOf(y *Hash, nonces [][]byte, slots uint64, out []uint64) {
	var buf [len(cuckooLabel) + 1 + nonceLen + HashSize]byte
	copy(buf[:], cuckooLabel)
	for j := range nonces {
		buf[len(cuckooLabel)] = byte(j + 1)
		copy(buf[len(cuckooLabel)+1:], nonces[j])
		copy(buf[len(cuckooLabel)+1+nonceLen:], y[:])
		h := sha256.Sum256(buf[:])
		w := binary.BigEndian.Uint64(h[:8]) % slots
		for again := true; again; {
			again = false
			for k := 0; k < j; k++ {
				if out[k] == w {
					w = (w + 1) % slots
					again = true
				}
			}
		}
		out[j] = w
	}
}

// hashPoint is H(y) = HashToPoint(nonce_H ‖ y, DST_H).
func hashPoint(nonceH []byte, y *Hash) (*nistec.P256Point, error) {
	var msg [nonceLen + HashSize]byte
	copy(msg[:], nonceH)
	copy(msg[nonceLen:], y[:])
	return p256.HashToPoint(msg[:], []byte(dstH))
}

// TableOptions configure BuildTable.
type TableOptions struct {
	Params Params  // published t, s, AD_LEN; zero means DefaultParams
	D      int     // cuckoo functions, 2 (default) or 3
	Load   float64 // n/n'; zero means 0.45 for d = 2 and 0.85 for d = 3
	Epoch  uint64  // database version
	// Workers bounds the goroutines computing slots; zero means GOMAXPROCS.
	Workers int
}

// BuildResult is what BuildTable returns besides the table.
type BuildResult struct {
	Table *Table
	Key   *ServerKey
	// Dropped are the hashes the cuckoo insertion could not place (protocol.md
	// §2.1 step 4): they are not in the table and never match.
	Dropped []Hash
}

// BuildTable blinds the distinct hashes xs into a new table with a fresh
// server key, drawing every random value (nonces, α, empty-slot seed, the
// cuckoo walk) from rand. Duplicates in xs are ignored.
func BuildTable(rand io.Reader, xs []Hash, opts TableOptions) (*BuildResult, error) {
	params := opts.Params
	if params == (Params{}) {
		params = DefaultParams
	}
	if err := params.Check(); err != nil {
		return nil, err
	}
	d := opts.D
	if d == 0 {
		d = 2
	}
	if d != 2 && d != 3 {
		return nil, fmt.Errorf("psi: d=%d cuckoo functions, want 2 or 3", d)
	}
	load := opts.Load
	if load == 0 {
		load = DefaultLoad
		if d == 3 {
			load = 0.85
		}
	}
	if !(load > 0 && load <= 1) {
		return nil, fmt.Errorf("psi: load %v out of range (0, 1]", load)
	}
	uniq := slices.Clone(xs)
	slices.SortFunc(uniq, func(a, b Hash) int { return bytes.Compare(a[:], b[:]) })
	uniq = slices.Compact(uniq)
	n := uint64(len(uniq))
	slots := uint64(float64(n)/load + 0.999999)
	slots = max(slots, uint64(d)) // distinct slots need at least d of them
	if slots >= MaxSlots {
		return nil, fmt.Errorf("psi: %d slots is too many", slots)
	}

	// Nonces first: they may depend on n only, never on the contents (§2.1).
	var hdrFields [56]byte
	nonceH := make([]byte, nonceLen)
	nonces := make([][]byte, d)
	if _, err := io.ReadFull(rand, nonceH); err != nil {
		return nil, fmt.Errorf("psi: reading randomness: %w", err)
	}
	for j := range nonces {
		nonces[j] = make([]byte, nonceLen)
		if _, err := io.ReadFull(rand, nonces[j]); err != nil {
			return nil, fmt.Errorf("psi: reading randomness: %w", err)
		}
	}
	key, err := newServerKey(rand, params, d, opts.Epoch)
	if err != nil {
		return nil, err
	}

	// Cuckoo insertion, random walk.
	const empty = ^uint32(0)
	occ := make([]uint32, slots)
	for i := range occ {
		occ[i] = empty
	}
	pos := make([]uint64, d)
	var dropped []Hash
	var rbuf [8]byte
	for i := range uniq {
		cur := uint32(i)
		for kick := 0; ; kick++ {
			slotsOf(&uniq[cur], nonces, slots, pos)
			placed := false
			for _, w := range pos {
				if occ[w] == empty {
					occ[w] = cur
					placed = true
					break
				}
			}
			if placed {
				break
			}
			if kick == MaxKicks {
				dropped = append(dropped, uniq[cur])
				break
			}
			if _, err := io.ReadFull(rand, rbuf[:]); err != nil {
				return nil, fmt.Errorf("psi: reading randomness: %w", err)
			}
			w := pos[binary.BigEndian.Uint64(rbuf[:])%uint64(d)]
			occ[w], cur = cur, occ[w]
		}
	}

	hs := tableHeaderSize(d)
	raw := make([]byte, uint64(hs)+slots*pointSize)
	copy(hdrFields[0:4], tableMagic)
	hdrFields[4] = FormatVersion
	hdrFields[5] = Suite
	hdrFields[6] = byte(d)
	binary.BigEndian.PutUint64(hdrFields[8:], opts.Epoch)
	binary.BigEndian.PutUint64(hdrFields[16:], n-uint64(len(dropped)))
	binary.BigEndian.PutUint64(hdrFields[24:], slots)
	binary.BigEndian.PutUint16(hdrFields[32:], uint16(params.T))
	binary.BigEndian.PutUint16(hdrFields[34:], uint16(params.S))
	binary.BigEndian.PutUint32(hdrFields[36:], uint32(params.ADLen))
	copy(hdrFields[40:], nonceH)
	off := copy(raw, hdrFields[:])
	for _, nc := range nonces {
		off += copy(raw[off:], nc)
	}
	copy(raw[off:], key.l.BytesCompressed())

	// Slot values, in parallel: α·H(x) for filled slots, e_i·G for empty ones.
	err = forChunks(slots, opts.Workers, func(lo, hi uint64) error {
		for i := lo; i < hi; i++ {
			var p *nistec.P256Point
			var err error
			if occ[i] != empty {
				p, err = key.blind(nonceH, &uniq[occ[i]])
			} else {
				p, err = key.emptySlot(i)
			}
			if err != nil {
				return err
			}
			copy(raw[uint64(hs)+i*pointSize:], p.BytesCompressed())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	t, err := ParseTable(raw)
	if err != nil {
		return nil, fmt.Errorf("psi: built table does not parse: %w", err)
	}
	key.dbid = t.DBID()
	return &BuildResult{Table: t, Key: key, Dropped: dropped}, nil
}

// ParseTable parses and checks a table file: magic, version, suite, header
// fields, exact length, L, and that L and all slot encodings are pairwise
// distinct (protocol.md §2.2). It does not decode every slot point; Validate
// does, and the client decodes the slots it uses. raw is retained.
func ParseTable(raw []byte) (*Table, error) {
	if len(raw) < 8 {
		return nil, fmt.Errorf("psi: table: %w: %d bytes", ErrLength, len(raw))
	}
	if string(raw[0:4]) != tableMagic {
		return nil, fmt.Errorf("psi: table: %w", ErrMagic)
	}
	if raw[4] != FormatVersion {
		return nil, fmt.Errorf("psi: table: %w %d", ErrVersion, raw[4])
	}
	if raw[5] != Suite {
		return nil, fmt.Errorf("psi: table: %w %d", ErrSuite, raw[5])
	}
	d := int(raw[6])
	if d != 2 && d != 3 {
		return nil, fmt.Errorf("psi: table: d=%d cuckoo functions, want 2 or 3", d)
	}
	if raw[7] != 0 {
		return nil, errors.New("psi: table: reserved byte is not zero")
	}
	hs := tableHeaderSize(d)
	if len(raw) < hs {
		return nil, fmt.Errorf("psi: table: %w: %d bytes, header alone is %d", ErrLength, len(raw), hs)
	}
	t := &Table{raw: raw, d: d}
	t.epoch = binary.BigEndian.Uint64(raw[8:])
	t.n = binary.BigEndian.Uint64(raw[16:])
	t.slots = binary.BigEndian.Uint64(raw[24:])
	t.params = Params{
		T:     int(binary.BigEndian.Uint16(raw[32:])),
		S:     int(binary.BigEndian.Uint16(raw[34:])),
		ADLen: int(binary.BigEndian.Uint32(raw[36:])),
	}
	if err := t.params.Check(); err != nil {
		return nil, fmt.Errorf("psi: table header: %w", err)
	}
	if t.slots < uint64(d) || t.slots >= MaxSlots {
		return nil, fmt.Errorf("psi: table: %d slots out of range", t.slots)
	}
	if t.n > t.slots {
		return nil, fmt.Errorf("psi: table: %d elements in %d slots", t.n, t.slots)
	}
	if want := uint64(hs) + t.slots*pointSize; uint64(len(raw)) != want {
		return nil, fmt.Errorf("psi: table: %w: %d bytes, want %d for %d slots", ErrLength, len(raw), want, t.slots)
	}
	t.nonceH = raw[40:56]
	for j := 0; j < d; j++ {
		t.nonces = append(t.nonces, raw[56+nonceLen*j:56+nonceLen*(j+1)])
	}
	l, err := decodePoint(raw[hs-pointSize : hs])
	if err != nil {
		return nil, fmt.Errorf("psi: table: L: %w", err)
	}
	t.l = l
	t.lMul = sync.OnceValue(func() *p256.FixedBase { return p256.NewFixedBase(l) })
	if err := t.checkDistinct(); err != nil {
		return nil, err
	}
	t.root = merkleRoot(raw[:hs], raw[hs:], pointSize)
	return t, nil
}

// checkDistinct sorts the encodings of L and every slot by their first 8
// x-coordinate bytes and compares neighbours in full.
func (t *Table) checkDistinct() error {
	type ent struct {
		key uint64
		idx uint64 // slot index, or n' for L
	}
	enc := func(i uint64) []byte {
		if i == t.slots {
			hs := t.HeaderSize()
			return t.raw[hs-pointSize : hs]
		}
		return t.slotBytes(i)
	}
	es := make([]ent, t.slots+1)
	for i := range es {
		es[i] = ent{binary.BigEndian.Uint64(enc(uint64(i))[1:9]), uint64(i)}
	}
	slices.SortFunc(es, func(a, b ent) int { return cmp.Compare(a.key, b.key) })
	for i := 1; i < len(es); i++ {
		if es[i].key != es[i-1].key {
			continue
		}
		// Same x prefix: compare every entry of the run in full.
		for j := i - 1; j >= 0 && es[j].key == es[i].key; j-- {
			if bytes.Equal(enc(es[i].idx), enc(es[j].idx)) {
				a, b := min(es[i].idx, es[j].idx), max(es[i].idx, es[j].idx)
				if b == t.slots {
					return fmt.Errorf("psi: table: slot %d equals L", a)
				}
				return fmt.Errorf("psi: table: slots %d and %d hold the same point", a, b)
			}
		}
	}
	return nil
}

// Validate decodes every slot point (in parallel on workers goroutines, or
// GOMAXPROCS if workers ≤ 0) and reports the first invalid one.
func (t *Table) Validate(workers int) error {
	return forChunks(t.slots, workers, func(lo, hi uint64) error {
		for i := lo; i < hi; i++ {
			if _, err := t.point(i); err != nil {
				return err
			}
		}
		return nil
	})
}

// maxChunk bounds the slots of one forChunks call: small enough that the
// cores stay evenly loaded and an error stops the rest soon, large enough
// that a goroutine per chunk costs nothing next to its point operations.
const maxChunk = 1024

// forChunks calls fn on consecutive ranges [lo, hi) covering [0, n), on at
// most workers goroutines at once (GOMAXPROCS if workers ≤ 0). A failure
// keeps the ranges above it from starting; every range below it runs, so
// the error returned, that of the lowest failing range, does not depend on
// the scheduling.
func forChunks(n uint64, workers int, fn func(lo, hi uint64) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	chunk := max(1, min(maxChunk, (n+uint64(workers)-1)/uint64(workers)))
	errs := make([]error, (n+chunk-1)/chunk)
	var failed atomic.Uint64 // the lowest failing range's lo; n while none
	failed.Store(n)
	var g errgroup.Group
	g.SetLimit(workers)
	for lo := uint64(0); lo < n && failed.Load() == n; lo += chunk {
		g.Go(func() error {
			// Go may have waited for a free worker while a range failed.
			if failed.Load() < lo {
				return nil
			}
			if errs[lo/chunk] = fn(lo, min(lo+chunk, n)); errs[lo/chunk] != nil {
				for f := failed.Load(); lo < f && !failed.CompareAndSwap(f, lo); f = failed.Load() {
				}
			}
			return nil
		})
	}
	g.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Verify checks that the table's Merkle root equals root.
func (t *Table) Verify(root [32]byte) error {
	if t.root != root {
		return fmt.Errorf("psi: table root %x does not match the published root %x", t.root, root)
	}
	return nil
}
