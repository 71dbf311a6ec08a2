// Package p256 holds the P-256 code that the public libraries do not expose:
// a constant-time field implementation (Montgomery form on math/bits) used
// for RFC 9380 hash-to-curve (P256_XMD:SHA-256_SSWU_RO_), hash-to-scalar,
// and helpers around filippo.io/nistec points.
//
// filippo.io/nistec (the Go standard library's P-256, with its assembly)
// does the scalar multiplications, point additions and encodings;
// FixedBase multiplies one point by many scalars from a table of its
// multiples, through nistec's public additions and selects;
// CompressBatch encodes several nistec points for one (nistec) field
// inversion, reading their Jacobian coordinates where nistec's layout
// allows (checked at first use, with a per-point fallback). circl's
// P-256 hash-to-curve goes through math/big and costs about three times as
// much as HashToPoint here (see the benchmarks in this package).
package p256

import (
	"encoding/binary"
	"math/bits"
)

// fe is a field element mod p = 2^256 − 2^224 + 2^192 + 2^96 − 1 in Montgomery
// form (a·2^256 mod p), little-endian 64-bit limbs, always fully reduced.
type fe [4]uint64

// The prime, little-endian limbs.
var pLimbs = [4]uint64{0xffffffffffffffff, 0x00000000ffffffff, 0, 0xffffffff00000001}

// rr is 2^512 mod p (to enter the Montgomery domain); rrr is 2^768 mod p
// (to fold the top of a 384-bit value in).
var (
	rr  = fe{0x0000000000000003, 0xfffffffbffffffff, 0xfffffffffffffffe, 0x00000004fffffffd}
	rrr fe
	one fe // 1 in Montgomery form = 2^256 mod p
)

func init() {
	one = fe{0x0000000000000001, 0xffffffff00000000, 0xffffffffffffffff, 0x00000000fffffffe}
	// rrr = rr · rr · 2^-256 = 2^768 mod p.
	feMul(&rrr, &rr, &rr)
}

// feMul sets z = x·y·2^-256 mod p: a schoolbook 4×4-limb product, then four
// word-by-word Montgomery reduction rounds. −p⁻¹ ≡ 1 (mod 2^64) for this p,
// so each round's multiplier is the low limb itself; p[2] = 0 saves a product.
// The code is fully unrolled (generated) so the limbs stay in registers.
func feMul(z, x, y *fe) {
	x0, x1, x2, x3 := x[0], x[1], x[2], x[3]
	var t0, t1, t2, t3, t4, t5, t6, t7, c, cc, hi, lo, m uint64
	// row 0
	hi, lo = bits.Mul64(x0, y[0])
	t0, cc = bits.Add64(t0, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(x1, y[0])
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t1, cc = bits.Add64(t1, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(x2, y[0])
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t2, cc = bits.Add64(t2, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(x3, y[0])
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t3, cc = bits.Add64(t3, lo, 0)
	t4 = hi + cc
	// row 1
	hi, lo = bits.Mul64(x0, y[1])
	t1, cc = bits.Add64(t1, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(x1, y[1])
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t2, cc = bits.Add64(t2, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(x2, y[1])
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t3, cc = bits.Add64(t3, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(x3, y[1])
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t4, cc = bits.Add64(t4, lo, 0)
	t5 = hi + cc
	// row 2
	hi, lo = bits.Mul64(x0, y[2])
	t2, cc = bits.Add64(t2, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(x1, y[2])
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t3, cc = bits.Add64(t3, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(x2, y[2])
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t4, cc = bits.Add64(t4, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(x3, y[2])
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t5, cc = bits.Add64(t5, lo, 0)
	t6 = hi + cc
	// row 3
	hi, lo = bits.Mul64(x0, y[3])
	t3, cc = bits.Add64(t3, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(x1, y[3])
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t4, cc = bits.Add64(t4, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(x2, y[3])
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t5, cc = bits.Add64(t5, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(x3, y[3])
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t6, cc = bits.Add64(t6, lo, 0)
	t7 = hi + cc
	var top uint64
	// reduction round 0
	m = t0
	hi, lo = bits.Mul64(m, 0xffffffffffffffff)
	_, cc = bits.Add64(t0, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(m, 0x00000000ffffffff)
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t1, cc = bits.Add64(t1, lo, 0)
	c = hi + cc
	t2, cc = bits.Add64(t2, c, 0)
	c = cc
	hi, lo = bits.Mul64(m, 0xffffffff00000001)
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t3, cc = bits.Add64(t3, lo, 0)
	c = hi + cc
	t4, top = bits.Add64(t4, c, top)
	// reduction round 1
	m = t1
	hi, lo = bits.Mul64(m, 0xffffffffffffffff)
	_, cc = bits.Add64(t1, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(m, 0x00000000ffffffff)
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t2, cc = bits.Add64(t2, lo, 0)
	c = hi + cc
	t3, cc = bits.Add64(t3, c, 0)
	c = cc
	hi, lo = bits.Mul64(m, 0xffffffff00000001)
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t4, cc = bits.Add64(t4, lo, 0)
	c = hi + cc
	t5, top = bits.Add64(t5, c, top)
	// reduction round 2
	m = t2
	hi, lo = bits.Mul64(m, 0xffffffffffffffff)
	_, cc = bits.Add64(t2, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(m, 0x00000000ffffffff)
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t3, cc = bits.Add64(t3, lo, 0)
	c = hi + cc
	t4, cc = bits.Add64(t4, c, 0)
	c = cc
	hi, lo = bits.Mul64(m, 0xffffffff00000001)
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t5, cc = bits.Add64(t5, lo, 0)
	c = hi + cc
	t6, top = bits.Add64(t6, c, top)
	// reduction round 3
	m = t3
	hi, lo = bits.Mul64(m, 0xffffffffffffffff)
	_, cc = bits.Add64(t3, lo, 0)
	c = hi + cc
	hi, lo = bits.Mul64(m, 0x00000000ffffffff)
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t4, cc = bits.Add64(t4, lo, 0)
	c = hi + cc
	t5, cc = bits.Add64(t5, c, 0)
	c = cc
	hi, lo = bits.Mul64(m, 0xffffffff00000001)
	lo, cc = bits.Add64(lo, c, 0)
	hi += cc
	t6, cc = bits.Add64(t6, lo, 0)
	c = hi + cc
	t7, top = bits.Add64(t7, c, top)
	// t4..t7 + top·2^256 < 2p: subtract p once if it is ≥ p.
	var b, d0, d1, d2, d3 uint64
	d0, b = bits.Sub64(t4, 0xffffffffffffffff, 0)
	d1, b = bits.Sub64(t5, 0x00000000ffffffff, b)
	d2, b = bits.Sub64(t6, 0, b)
	d3, b = bits.Sub64(t7, 0xffffffff00000001, b)
	_, b = bits.Sub64(top, 0, b)
	mask := -b // b == 1: below p, keep t
	z[0] = (t4 & mask) | (d0 &^ mask)
	z[1] = (t5 & mask) | (d1 &^ mask)
	z[2] = (t6 & mask) | (d2 &^ mask)
	z[3] = (t7 & mask) | (d3 &^ mask)
}

func feSquare(z, x *fe) { feMul(z, x, x) }

// feAdd sets z = x + y mod p.
func feAdd(z, x, y *fe) {
	var c, b uint64
	var s, d [4]uint64
	s[0], c = bits.Add64(x[0], y[0], 0)
	s[1], c = bits.Add64(x[1], y[1], c)
	s[2], c = bits.Add64(x[2], y[2], c)
	s[3], c = bits.Add64(x[3], y[3], c)
	d[0], b = bits.Sub64(s[0], pLimbs[0], 0)
	d[1], b = bits.Sub64(s[1], pLimbs[1], b)
	d[2], b = bits.Sub64(s[2], pLimbs[2], b)
	d[3], b = bits.Sub64(s[3], pLimbs[3], b)
	_, b = bits.Sub64(c, 0, b)
	mask := -b // keep s when s < p
	for i := range z {
		z[i] = (s[i] & mask) | (d[i] &^ mask)
	}
}

// feSub sets z = x − y mod p.
func feSub(z, x, y *fe) {
	var b, c uint64
	var d, s [4]uint64
	d[0], b = bits.Sub64(x[0], y[0], 0)
	d[1], b = bits.Sub64(x[1], y[1], b)
	d[2], b = bits.Sub64(x[2], y[2], b)
	d[3], b = bits.Sub64(x[3], y[3], b)
	mask := -b // add p back when it borrowed
	s[0], c = bits.Add64(d[0], pLimbs[0]&mask, 0)
	s[1], c = bits.Add64(d[1], pLimbs[1]&mask, c)
	s[2], c = bits.Add64(d[2], pLimbs[2]&mask, c)
	s[3], _ = bits.Add64(d[3], pLimbs[3]&mask, c)
	*z = s
}

func feNeg(z, x *fe) {
	var zero fe
	feSub(z, &zero, x)
}

// feSelect sets z = a if cond == 1, b if cond == 0, in constant time.
func feSelect(z, a, b *fe, cond uint64) {
	mask := -cond
	for i := range z {
		z[i] = (a[i] & mask) | (b[i] &^ mask)
	}
}

// feEqual returns 1 if x == y, else 0, in constant time.
func feEqual(x, y *fe) uint64 {
	var acc uint64
	for i := range x {
		acc |= x[i] ^ y[i]
	}
	return ((acc | -acc) >> 63) ^ 1
}

func feIsZero(x *fe) uint64 {
	var zero fe
	return feEqual(x, &zero)
}

// fromMont returns the canonical value of x, little-endian limbs.
func fromMont(x *fe) [4]uint64 {
	var out fe
	o := fe{1}
	feMul(&out, x, &o)
	return out
}

// toMont sets z to the Montgomery form of the little-endian value v < 2^256
// (values in [p, 2^256) are reduced).
func toMont(z *fe, v *[4]uint64) {
	t := fe(*v)
	feMul(z, &t, &rr) // the product is reduced below p whatever t's size
}

// feSetBytes48 sets z to the big-endian 48-byte integer b reduced mod p, in
// constant time: b = hi·2^256 + lo, and z = lo·R + hi·R·R in Montgomery form.
func feSetBytes48(z *fe, b []byte) {
	var hi, lo [4]uint64
	hi[1] = binary.BigEndian.Uint64(b[0:8])
	hi[0] = binary.BigEndian.Uint64(b[8:16])
	lo[3] = binary.BigEndian.Uint64(b[16:24])
	lo[2] = binary.BigEndian.Uint64(b[24:32])
	lo[1] = binary.BigEndian.Uint64(b[32:40])
	lo[0] = binary.BigEndian.Uint64(b[40:48])
	var a, h fe
	toMont(&a, &lo)
	hv := fe(hi)
	feMul(&h, &hv, &rrr)
	feAdd(z, &a, &h)
}

// feSetBytes32 sets z from a big-endian 32-byte value, which must be < p.
func feSetBytes32(z *fe, b []byte) {
	var v [4]uint64
	v[3] = binary.BigEndian.Uint64(b[0:8])
	v[2] = binary.BigEndian.Uint64(b[8:16])
	v[1] = binary.BigEndian.Uint64(b[16:24])
	v[0] = binary.BigEndian.Uint64(b[24:32])
	toMont(z, &v)
}

// feBytes writes the canonical big-endian encoding of x into out[0:32].
func feBytes(out []byte, x *fe) {
	v := fromMont(x)
	binary.BigEndian.PutUint64(out[0:8], v[3])
	binary.BigEndian.PutUint64(out[8:16], v[2])
	binary.BigEndian.PutUint64(out[16:24], v[1])
	binary.BigEndian.PutUint64(out[24:32], v[0])
}

// sgn0 is RFC 9380's sgn0 for a prime field: the parity of the canonical value.
func sgn0(x *fe) uint64 { return fromMont(x)[0] & 1 }

// fePow sets z = x^e for a public exponent e (little-endian limbs), with a
// fixed 4-bit window: the sequence of operations depends only on e.
func fePow(z, x *fe, e *[4]uint64) {
	var table [16]fe
	table[0] = one
	table[1] = *x
	for i := 2; i < 16; i++ {
		feMul(&table[i], &table[i-1], x)
	}
	acc := one
	started := false
	for i := 63; i >= 0; i-- {
		w := (e[i/16] >> (uint(i%16) * 4)) & 0xf
		if started {
			feSquare(&acc, &acc)
			feSquare(&acc, &acc)
			feSquare(&acc, &acc)
			feSquare(&acc, &acc)
		}
		if w != 0 { // e is public
			if started {
				feMul(&acc, &acc, &table[w])
			} else {
				acc = table[w]
				started = true
			}
		}
	}
	*z = acc
}

// Exponents: p−2 (inversion), (p−3)/4 (sqrt_ratio), (p+1)/4 (square root).
var (
	expInv  = [4]uint64{0xfffffffffffffffd, 0x00000000ffffffff, 0, 0xffffffff00000001}
	expC1   = [4]uint64{0xffffffffffffffff, 0x000000003fffffff, 0x4000000000000000, 0x3fffffffc0000000}
	expSqrt = [4]uint64{0x0000000000000000, 0x0000000040000000, 0x4000000000000000, 0x3fffffffc0000000}
)

// feInv sets z = x⁻¹ (0 for 0).
func feInv(z, x *fe) { fePow(z, x, &expInv) }
