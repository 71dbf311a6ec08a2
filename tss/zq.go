package tss

import (
	"encoding/binary"
	"math/bits"
)

// Constant-time arithmetic in Z_q, q the order of the P-256 group, on four
// little-endian 64-bit limbs. Every function here runs the same instructions
// and touches the same memory whatever the values: carries and borrows from
// math/bits become all-zero or all-ones masks instead of branches. Only the
// length of a byte string given to scalarReduce (a public length) affects the
// running time.

// scalar is an element of Z_q in [0, q), as little-endian limbs. It is kept
// in the ordinary (not the Montgomery) representation; montMul with a factor
// in Montgomery form (y·R mod q) yields an ordinary product.
type scalar [4]uint64

// qLimbs is q = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551.
var qLimbs = scalar{0xf3b9cac2fc632551, 0xbce6faada7179e84, 0xffffffffffffffff, 0xffffffff00000000}

// qInv is −q⁻¹ mod 2^64, for Montgomery reduction.
const qInv = 0xccd1c8aaee00bc4f

// rr is R² mod q, R = 2^256: montMul(x, rr) = x·R mod q, the Montgomery form
// of x, and also x·2^256 mod q for the wide reduction in scalarReduce.
var rr = scalar{0x83244c95be79eea2, 0x4699799c49bd6fa6, 0x2845b2392b6bec59, 0x66e12d94f3d95620}

// sel returns a if mask is all ones and b if mask is zero.
func sel(mask, a, b uint64) uint64 { return b ^ (mask & (a ^ b)) }

// subQ returns v − q if hi·2^256 + v ≥ q and v otherwise, for hi·2^256 + v < 2q.
func subQ(v scalar, hi uint64) scalar {
	d0, b := bits.Sub64(v[0], qLimbs[0], 0)
	d1, b := bits.Sub64(v[1], qLimbs[1], b)
	d2, b := bits.Sub64(v[2], qLimbs[2], b)
	d3, b := bits.Sub64(v[3], qLimbs[3], b)
	_, b = bits.Sub64(hi, 0, b)
	// b is 0 when hi·2^256 + v ≥ q: keep the difference.
	keep := b - 1
	return scalar{sel(keep, d0, v[0]), sel(keep, d1, v[1]), sel(keep, d2, v[2]), sel(keep, d3, v[3])}
}

// scalarAdd returns a + b mod q.
func scalarAdd(a, b scalar) scalar {
	var s scalar
	var c uint64
	s[0], c = bits.Add64(a[0], b[0], 0)
	s[1], c = bits.Add64(a[1], b[1], c)
	s[2], c = bits.Add64(a[2], b[2], c)
	s[3], c = bits.Add64(a[3], b[3], c)
	return subQ(s, c)
}

// scalarSub returns a − b mod q.
func scalarSub(a, b scalar) scalar {
	var d scalar
	var bo uint64
	d[0], bo = bits.Sub64(a[0], b[0], 0)
	d[1], bo = bits.Sub64(a[1], b[1], bo)
	d[2], bo = bits.Sub64(a[2], b[2], bo)
	d[3], bo = bits.Sub64(a[3], b[3], bo)
	// On a borrow, add q back (masked, not branched).
	m := -bo
	var c uint64
	d[0], c = bits.Add64(d[0], qLimbs[0]&m, 0)
	d[1], c = bits.Add64(d[1], qLimbs[1]&m, c)
	d[2], c = bits.Add64(d[2], qLimbs[2]&m, c)
	d[3], _ = bits.Add64(d[3], qLimbs[3]&m, c)
	return d
}

// mac returns hi·2^64 + lo = x·y + a + c; it cannot overflow.
func mac(x, y, a, c uint64) (hi, lo uint64) {
	hi, lo = bits.Mul64(x, y)
	var k uint64
	lo, k = bits.Add64(lo, a, 0)
	hi += k
	lo, k = bits.Add64(lo, c, 0)
	hi += k
	return hi, lo
}

// montMul returns a·b·R⁻¹ mod q (R = 2^256) for a, b < q, by word-by-word
// Montgomery multiplication (CIOS) and one masked final subtraction.
func montMul(a, b scalar) scalar {
	var t0, t1, t2, t3, t4 uint64
	for _, bi := range b {
		// t += a·b_i
		var c, t5 uint64
		c, t0 = mac(a[0], bi, t0, 0)
		c, t1 = mac(a[1], bi, t1, c)
		c, t2 = mac(a[2], bi, t2, c)
		c, t3 = mac(a[3], bi, t3, c)
		t4, t5 = bits.Add64(t4, c, 0)
		// t = (t + m·q) / 2^64, with m chosen so the low word cancels.
		m := t0 * qInv
		c, _ = mac(m, qLimbs[0], t0, 0)
		c, t0 = mac(m, qLimbs[1], t1, c)
		c, t1 = mac(m, qLimbs[2], t2, c)
		c, t2 = mac(m, qLimbs[3], t3, c)
		t3, c = bits.Add64(t4, c, 0)
		t4 = t5 + c
	}
	// t < 2q: subtract q once if t ≥ q.
	return subQ(scalar{t0, t1, t2, t3}, t4)
}

// scalarFromBytes32 decodes a 32-byte big-endian value and returns it with
// lt = 1 if it is below q, 0 otherwise (without branching on the value).
func scalarFromBytes32(b *[ZSize]byte) (v scalar, lt uint64) {
	v[3] = binary.BigEndian.Uint64(b[0:8])
	v[2] = binary.BigEndian.Uint64(b[8:16])
	v[1] = binary.BigEndian.Uint64(b[16:24])
	v[0] = binary.BigEndian.Uint64(b[24:32])
	_, bo := bits.Sub64(v[0], qLimbs[0], 0)
	_, bo = bits.Sub64(v[1], qLimbs[1], bo)
	_, bo = bits.Sub64(v[2], qLimbs[2], bo)
	_, bo = bits.Sub64(v[3], qLimbs[3], bo)
	return v, bo
}

// scalarReduce returns the big-endian integer b of any length mod q. It
// works through 32-byte blocks from the most significant end:
// acc ← acc·2^256 + block (mod q), where acc·2^256 = montMul(acc, R²) and a
// block, being below 2^256 < 2q, needs one masked subtraction. Only len(b)
// affects the running time.
func scalarReduce(b []byte) scalar {
	var acc scalar
	first := len(b) % ZSize
	if first == 0 && len(b) > 0 {
		first = ZSize
	}
	for len(b) > 0 {
		var blk [ZSize]byte
		copy(blk[ZSize-first:], b[:first])
		b = b[first:]
		first = ZSize
		v, _ := scalarFromBytes32(&blk)
		acc = scalarAdd(montMul(acc, rr), subQ(v, 0))
	}
	return acc
}

// bytes returns v as 32 big-endian bytes.
func (v *scalar) bytes() [ZSize]byte {
	var out [ZSize]byte
	binary.BigEndian.PutUint64(out[0:8], v[3])
	binary.BigEndian.PutUint64(out[8:16], v[2])
	binary.BigEndian.PutUint64(out[16:24], v[1])
	binary.BigEndian.PutUint64(out[24:32], v[0])
	return out
}

// scalarInv returns a⁻¹ mod q (0 for 0) as a^(q−2), by a fixed
// left-to-right square-and-multiply over the public exponent q−2: the
// sequence of operations does not depend on a. The result is in the
// ordinary representation.
func scalarInv(a scalar) scalar {
	e := [4]uint64{qLimbs[0] - 2, qLimbs[1], qLimbs[2], qLimbs[3]} // q−2; q's low limb is odd and > 2
	aM := montMul(a, rr)                                           // a·R
	// In Montgomery form throughout: acc = a^k·R.
	acc := montMul(scalar{1}, rr) // 1·R
	for i := 255; i >= 0; i-- {
		acc = montMul(acc, acc)
		if e[i/64]>>(i%64)&1 == 1 { // public exponent bit
			acc = montMul(acc, aM)
		}
	}
	return montMul(acc, scalar{1}) // leave Montgomery form
}
