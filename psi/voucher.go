package psi

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	mrand "math/rand/v2"
	"runtime"

	"filippo.io/nistec"
	"golang.org/x/sync/errgroup"

	"github.com/vouchsafe/vouchsafe/internal/p256"
	"github.com/vouchsafe/vouchsafe/tss"
)

const voucherMagic = "VSVC"

// Labels (protocol.md §5.2).
const (
	outerSalt = "VOUCHSAFE-V01 outer"
	adAAD     = "VOUCHSAFE-V01 ad"
)

// NRef is the reference library size of the default synthetic probability.
const NRef = 10000

// DefaultSyntheticRate is p = ((c_lo + c_hi)/2) / N_ref (protocol.md §3.3),
// 0.0042 for t = 30, s = 60.
func DefaultSyntheticRate(p Params) float64 {
	lo, hi := capRange(p)
	return float64(lo+hi) / 2 / NRef
}

// ClientOptions configure a Client.
type ClientOptions struct {
	// SyntheticRate is p, the probability that a triple becomes a synthetic
	// voucher (while the account is below its secret cap). It is a public
	// deployment constant; 0 means never.
	SyntheticRate float64
	// Workers bounds the goroutines of Vouchers; zero means GOMAXPROCS.
	Workers int
	// SaveAccount, when set, is called each time an id joins the account's
	// synthetic set, before that id's voucher is made, with the account's
	// new encoding (MarshalBinary) and the account locked. It must store
	// it durably: a synthetic voucher that leaves the device while its id is
	// not yet saved in S could come out real on a later run, which would
	// tell the server it had been synthetic (protocol.md §3.3). An error
	// stops the voucher and takes the id out of S again. There are at most
	// C ≤ s such calls in an account's life.
	SaveAccount func(encoded []byte) error
}

// Triple is one input of the client: the image's perceptual hash, a fresh
// identifier, and the visual derivative (at most [Params.MaxDerivative]
// bytes, opaque to psi; made with package derivative).
type Triple struct {
	Hash       Hash
	ID         ID
	Derivative []byte
}

// Client makes vouchers for one [Account] against one [Table]. It is safe for
// concurrent use; it adds to the account's synthetic set.
type Client struct {
	table   *Table
	acct    *Account
	keys    *accountKeys
	params  Params
	thresh  uint64 // u < thresh ⇒ synthetic (while below the cap)
	workers int
	save    func([]byte) error
}

// NewClient derives the account's keys for the table's parameters. With nil
// options the synthetic rate is DefaultSyntheticRate. Without
// ClientOptions.SaveAccount the caller must store the account (its
// synthetic set) before any voucher leaves the device. The table must have
// been parsed by ParseTable (and, in the strict mode of protocol.md §2.2,
// checked with Validate and Verify).
func NewClient(t *Table, a *Account, opts *ClientOptions) (*Client, error) {
	p := t.Params()
	o := ClientOptions{SyntheticRate: DefaultSyntheticRate(p)}
	if opts != nil {
		o = *opts
	}
	if !(o.SyntheticRate >= 0 && o.SyntheticRate <= 1) {
		return nil, fmt.Errorf("psi: synthetic rate %v out of range [0, 1]", o.SyntheticRate)
	}
	keys, err := a.deriveKeys(p)
	if err != nil {
		return nil, err
	}
	c := &Client{table: t, acct: a, keys: keys, params: p, workers: o.Workers, save: o.SaveAccount}
	if f := o.SyntheticRate * (1 << 64); f >= 1<<64 {
		c.thresh = ^uint64(0)
	} else {
		c.thresh = uint64(f)
	}
	if c.workers <= 0 {
		c.workers = runtime.GOMAXPROCS(0)
	}
	return c, nil
}

// NewID draws a fresh random voucher identifier.
func NewID(rand io.Reader) (ID, error) {
	var id ID
	_, err := io.ReadFull(rand, id[:])
	return id, err
}

// decide applies protocol.md §3.3: an id already in the account's
// synthetic set S is synthetic again; a new id is synthetic iff its per-id
// draw is below p·2^64 and |S| is below the cap C, and then joins S (saved
// through SaveAccount before the voucher is made). It returns 1 for
// synthetic, 0 for real. The same id therefore gets the same answer on
// every run that shares the account state, whatever the order of the ids.
//
// The draw comparison is branch-free; the set lookup and the save are not
// (a map lookup, and a file write at most C times): they are visible only
// on the device, like every other access to the account file.
func (c *Client) decide(id *ID) (int, error) {
	u := c.keys.syntheticDraw(id)
	a := c.acct
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.isSynthetic(id) {
		return 1, nil
	}
	n := uint64(len(a.synthetic))
	fresh := lessU64(u, c.thresh) & lessU64(n, c.keys.cap)
	if fresh == 0 {
		return 0, nil
	}
	a.addSynthetic(id)
	if c.save != nil {
		b, err := a.marshalLocked()
		if err == nil {
			err = c.save(b)
		}
		if err != nil {
			delete(a.synthetic, *id)
			return 0, fmt.Errorf("psi: saving the account's synthetic set: %w", err)
		}
	}
	return 1, nil
}

// lessU64 returns 1 if a < b, else 0, without branches.
func lessU64(a, b uint64) int {
	_, borrow := bits.Sub64(a, b, 0)
	return int(borrow)
}

// Voucher makes the voucher for one triple, drawing its randomness from rand
// (crypto/rand.Reader in production).
func (c *Client) Voucher(rand io.Reader, tr *Triple) ([]byte, error) {
	if err := c.checkTriple(tr); err != nil {
		return nil, err
	}
	var seed [32]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("psi: reading randomness: %w", err)
	}
	synth, err := c.decide(&tr.ID)
	if err != nil {
		return nil, err
	}
	return c.build(seed, tr, synth)
}

// Vouchers makes the vouchers of many triples on all cores. The synthetic
// decisions and the per-voucher random seeds are taken in input order, so
// the output for a given rand stream does not depend on the scheduling.
// All decisions (and the saves of new synthetic ids) happen before any
// voucher is returned.
func (c *Client) Vouchers(rand io.Reader, trs []Triple) ([][]byte, error) {
	for i := range trs {
		if err := c.checkTriple(&trs[i]); err != nil {
			return nil, fmt.Errorf("triple %d: %w", i, err)
		}
	}
	seeds := make([][32]byte, len(trs))
	synth := make([]int, len(trs))
	for i := range trs {
		if _, err := io.ReadFull(rand, seeds[i][:]); err != nil {
			return nil, fmt.Errorf("psi: reading randomness: %w", err)
		}
		s, err := c.decide(&trs[i].ID)
		if err != nil {
			return nil, err
		}
		synth[i] = s
	}
	out := make([][]byte, len(trs))
	// The first error stops triples from starting; every triple below it has
	// started, so the lowest failing index, the one reported, does not
	// depend on the scheduling either.
	errs := make([]error, len(trs))
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(c.workers)
	for i := 0; i < len(trs) && ctx.Err() == nil; i++ {
		g.Go(func() error {
			out[i], errs[i] = c.build(seeds[i], &trs[i], synth[i])
			return errs[i]
		})
	}
	if g.Wait() != nil {
		for i, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("triple %d: %w", i, err)
			}
		}
	}
	return out, nil
}

func (c *Client) checkTriple(tr *Triple) error {
	if len(tr.Derivative) > c.params.MaxDerivative() {
		return fmt.Errorf("psi: derivative of %d bytes exceeds the %d bytes that fit AD_LEN=%d",
			len(tr.Derivative), c.params.MaxDerivative(), c.params.ADLen)
	}
	return nil
}

func newGCM(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic("psi: AES key: " + err.Error()) // keys are always 32 bytes here
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic("psi: GCM: " + err.Error())
	}
	return g
}

var zeroNonce [nonceSize]byte

// outerKey is K = HKDF-SHA256(IKM = enc(S), salt = "VOUCHSAFE-V01 outer",
// info = prefix ‖ enc(Q), 32 bytes): RFC 5869 extract and one expand block,
// each an HMAC-SHA256 (RFC 2104) written out over stack buffers so that it
// allocates nothing (it runs d times per voucher on both sides). encS and
// encQ are pointSize bytes, prefix prefixSize; TestOuterKeyHKDF checks it
// against crypto/hkdf.
func outerKey(encS, prefix, encQ []byte) [keySize]byte {
	const blk = sha256.BlockSize
	// PRK = HMAC(salt, IKM), the salt's padded blocks precomputed.
	var in1 [blk + pointSize]byte
	copy(in1[:], outerIpad[:])
	copy(in1[blk:], encS)
	ih := sha256.Sum256(in1[:])
	var out [blk + sha256.Size]byte
	copy(out[:], outerOpad[:])
	copy(out[blk:], ih[:])
	prk := sha256.Sum256(out[:])
	// T(1) = HMAC(PRK, info ‖ 0x01).
	var in2 [blk + prefixSize + pointSize + 1]byte
	for i := range blk {
		in2[i] = 0x36
		out[i] = 0x5c
	}
	for i := range prk {
		in2[i] ^= prk[i]
		out[i] ^= prk[i]
	}
	copy(in2[blk:], prefix[:prefixSize])
	copy(in2[blk+prefixSize:], encQ[:pointSize])
	in2[len(in2)-1] = 1
	ih = sha256.Sum256(in2[:])
	copy(out[blk:], ih[:])
	k := sha256.Sum256(out[:])
	clear(in1[:])
	clear(in2[:blk])
	clear(out[:])
	clear(prk[:])
	clear(ih[:])
	return k
}

// outerIpad and outerOpad are the HMAC key blocks of the outer salt.
var outerIpad, outerOpad = func() (ipad, opad [sha256.BlockSize]byte) {
	for i := range ipad {
		ipad[i], opad[i] = 0x36, 0x5c
	}
	for i := 0; i < len(outerSalt); i++ { // the salt is shorter than a block
		ipad[i] ^= outerSalt[i]
		opad[i] ^= outerSalt[i]
	}
	return
}()

func adAD(id *ID) []byte { return append([]byte(adAAD), id[:]...) }

// build is the voucher of protocol.md §3.4 (real) and §3.5 (synthetic) in
// one constant-time code path. Both payloads are computed and the right one
// selected with subtle.ConstantTimeCopy. For the outer layer every pair is
// computed as Q_j = β_j·B1 + γ_j·G, S_j = β_j·B2_j + γ_j·L, with
// (B1, B2_j) = (H(y), P_{w_j}) for a real voucher and, selected in constant
// time for a synthetic one, (G, L) for the first pair (a DH pair with
// respect to L: always opens) and (G, P_{w_j}) for the others (Q and S
// independent and uniform since P_{w_j} ≠ L: never opens). These have the
// distributions §3.5 prescribes, for the same elliptic-curve operations as a
// real voucher.
func (c *Client) build(seed [32]byte, tr *Triple, synth int) ([]byte, error) {
	p := c.params
	t := c.table
	d := t.d
	rng := mrand.NewChaCha8(seed)
	v := make([]byte, p.VoucherSize(d))

	// Prefix.
	prefix := v[:prefixSize]
	copy(prefix, voucherMagic)
	prefix[4] = FormatVersion
	prefix[5] = Suite
	dbid := t.DBID()
	copy(prefix[8:16], dbid[:])
	copy(prefix[16:32], tr.ID[:])

	// Inner layer, real and synthetic.
	sv := c.keys.prf(&tr.ID, p.S)
	adplain := make([]byte, p.ADLen)
	binary.BigEndian.PutUint16(adplain, uint16(len(tr.Derivative)))
	copy(adplain[2:], tr.Hash[:])
	copy(adplain[2+HashSize:], tr.Derivative)
	var adnonce [nonceSize]byte
	var ckey, rkey [keySize]byte
	rng.Read(adnonce[:])
	rng.Read(ckey[:])
	rng.Read(rkey[:])
	aad := adAD(&tr.ID)

	inner := make([]byte, p.innerSize())
	dummy := make([]byte, p.innerSize())
	r := c.keys.dhf.Eval(sv.x0)
	share, err := c.keys.poly.Share(sv.x)
	if err != nil {
		return nil, err
	}
	fillInner(inner, r, &sv.x, &share.Z, &adnonce, newGCM(c.keys.adkey), adplain, aad)
	clear(adplain)
	fillInner(dummy, sv.rDummy, &sv.x, &sv.zDummy, &adnonce, newGCM(ckey[:]), adplain, aad)
	subtle.ConstantTimeCopy(synth, inner, dummy)
	rctOff := prefixSize + d*pairSize
	newGCM(rkey[:]).Seal(v[rctOff:rctOff], zeroNonce[:], inner, prefix)

	// Outer layer.
	enc, err := outerPoints(t, &tr.Hash, synth, rng)
	if err != nil {
		return nil, err
	}
	pairs := make([][pairSize]byte, d)
	for j := 0; j < d; j++ {
		encQ := enc[j][:]
		k := outerKey(enc[d+j][:], prefix, encQ)
		copy(pairs[j][:pointSize], encQ)
		newGCM(k[:]).Seal(pairs[j][pointSize:pointSize], zeroNonce[:], rkey[:], prefix)
		clear(k[:])
	}
	clear(enc)
	// Random order (Fisher–Yates with constant-time swaps).
	var tmp [pairSize]byte
	for i := d - 1; i > 0; i-- {
		var rb [8]byte
		rng.Read(rb[:])
		j := int(binary.BigEndian.Uint64(rb[:]) % uint64(i+1))
		for k := 0; k <= i; k++ {
			eq := subtle.ConstantTimeEq(int32(k), int32(j)) & (1 ^ subtle.ConstantTimeEq(int32(k), int32(i)))
			tmp = pairs[i]
			subtle.ConstantTimeCopy(eq, pairs[i][:], pairs[k][:])
			subtle.ConstantTimeCopy(eq, pairs[k][:], tmp[:])
		}
	}
	for j := range pairs {
		copy(v[prefixSize+j*pairSize:], pairs[j][:])
	}
	clear(rkey[:])
	clear(ckey[:])
	return v, nil
}

// outerPoints is the elliptic-curve part of build's outer layer (see build):
// for each of the table's d pairs it draws β_j and γ_j from rng and returns
// the encodings of Q_j in enc[j] and of S_j in enc[d+j], all 2d encoded
// together (one field inversion). synth is 1 for a synthetic voucher, 0 for
// a real one, and is used only through constant-time selects. It is its own
// function so that BenchmarkECSum and BenchmarkRatio time exactly this work.
func outerPoints(t *Table, y *Hash, synth int, rng io.Reader) (enc [][33]byte, err error) {
	d := t.d
	hy, err := hashPoint(t.nonceH, y)
	if err != nil {
		return nil, err
	}
	slots := make([]uint64, d)
	slotsOf(y, t.nonces, t.slots, slots)
	g := nistec.NewP256Point().SetGenerator()
	b1 := nistec.NewP256Point().Select(g, hy, synth)
	pts := make([]*nistec.P256Point, 2*d)
	lMul := t.lMul()
	var beta, gamma [32]byte
	defer clear(beta[:])
	defer clear(gamma[:])
	for j := 0; j < d; j++ {
		pw, err := t.point(slots[j])
		if err != nil {
			return nil, err
		}
		b2 := pw
		if j == 0 { // only the first pair of a synthetic voucher uses L
			b2 = nistec.NewP256Point().Select(t.l, pw, synth)
		}
		for {
			if err := randomScalar(rng, &beta); err != nil {
				return nil, err
			}
			if err := randomScalar(rng, &gamma); err != nil {
				return nil, err
			}
			q, s, err := selfReduce(b1, b2, lMul, &beta, &gamma)
			if err != nil {
				return nil, err
			}
			if q.IsInfinity()|s.IsInfinity() == 1 {
				continue // probability about 2^-255: draw again
			}
			pts[j], pts[d+j] = q, s
			break
		}
	}
	enc = make([][33]byte, 2*d)
	if err := p256.CompressBatch(enc, pts); err != nil {
		return nil, err // unreachable: no point is the point at infinity
	}
	return enc, nil
}

// selfReduce returns Q = β·B1 + γ·G and S = β·B2 + γ·L, with γ·L from the
// table's precomputed multiples of L (lMul).
func selfReduce(b1, b2 *nistec.P256Point, lMul *p256.FixedBase, beta, gamma *[32]byte) (q, s *nistec.P256Point, err error) {
	t1, err := nistec.NewP256Point().ScalarMult(b1, beta[:])
	if err != nil {
		return nil, nil, err
	}
	t2, err := nistec.NewP256Point().ScalarBaseMult(gamma[:])
	if err != nil {
		return nil, nil, err
	}
	q = t1.Add(t1, t2)
	t3, err := nistec.NewP256Point().ScalarMult(b2, beta[:])
	if err != nil {
		return nil, nil, err
	}
	t4, err := lMul.ScalarMult(nistec.NewP256Point(), gamma[:])
	if err != nil {
		return nil, nil, err
	}
	s = t3.Add(t3, t4)
	return q, s, nil
}

// fillInner writes r ‖ x ‖ z ‖ adnonce ‖ Seal(adkey, adnonce, adplain, aad).
func fillInner(dst []byte, r []tss.Elem, x *[xSize]byte, z *[zSize]byte, adnonce *[nonceSize]byte, g cipher.AEAD, adplain, aad []byte) {
	off := 0
	for _, e := range r {
		binary.BigEndian.PutUint64(dst[off:], e)
		off += 8
	}
	off += copy(dst[off:], x[:])
	off += copy(dst[off:], z[:])
	off += copy(dst[off:], adnonce[:])
	g.Seal(dst[off:off], adnonce[:], adplain, aad)
}

// VoucherHeader is the public part of a voucher: which table it was made
// against and its identifier.
type VoucherHeader struct {
	DBID DBID
	ID   ID
}

// ErrFlags is returned for a voucher whose reserved flags are not zero.
var ErrFlags = errors.New("psi: voucher flags are not zero")

// ParseVoucherHeader checks a voucher's magic, version, suite and flags and
// returns its db_id and id. It needs no key; the full length check needs the
// epoch's parameters (Server.Match does it).
func ParseVoucherHeader(v []byte) (VoucherHeader, error) {
	var h VoucherHeader
	if len(v) < prefixSize {
		return h, fmt.Errorf("psi: voucher: %w: %d bytes", ErrLength, len(v))
	}
	if string(v[:4]) != voucherMagic {
		return h, fmt.Errorf("psi: voucher: %w", ErrMagic)
	}
	if v[4] != FormatVersion {
		return h, fmt.Errorf("psi: voucher: %w %d", ErrVersion, v[4])
	}
	if v[5] != Suite {
		return h, fmt.Errorf("psi: voucher: %w %d", ErrSuite, v[5])
	}
	if v[6] != 0 || v[7] != 0 {
		return h, ErrFlags
	}
	copy(h.DBID[:], v[8:16])
	copy(h.ID[:], v[16:32])
	return h, nil
}
