// Package tss implements the threshold secret sharing of the Apple PSI
// system: Shamir t-of-n sharing over the P-256 scalar field with 128-bit
// x-coordinates, and the detectable hash function (DHF) over F_ℓ,
// ℓ = 2^64 − 59, whose kernel-based decoder picks the real shares out of a
// set mixed with synthetic (random) ones.
//
// See protocol.md §3.1, §4.2 and §4.3. The DHF is weakly t-wise independent:
// any t real DHF values are uniformly distributed, exactly like random ones,
// so nothing distinguishes ≤ t real shares from synthetic ones; with t+1 or
// more real values among at most s random ones, [Detect] finds exactly the
// real ones. [Decode] recovers the secret from real shares of which a few may
// be wrong (Berlekamp–Welch, protocol.md §4.2), naming the wrong ones.
//
// Constant time: the operations the client runs on device-local secrets
// (the Shamir and DHF coefficients and the values derived from them) take
// time independent of those values: [ScalarFromBytes] (for a given input
// length), [NewPolynomial], [Polynomial.Secret], [Polynomial.Share], [CheckShare],
// [NewDHF], [DHF.Eval] and [DHF.EvalInto]. Their arithmetic works on fixed-size
// limbs with math/bits, turns carries into masks instead of branches and
// uses no table lookups; what shows is only the public sizes (t, s, input
// lengths) and whether an input was rejected as out of range. Not
// constant-time: the server-side Detect and [Rank], which skip zero matrix
// entries and stop at the first non-zero pivot candidate, on DHF values the
// server holds anyway; [Recover]'s input checks, which return early on
// malformed shares (its arithmetic is the constant-time one); and Decode,
// which branches on the shares it decodes (server side). The § references
// are to docs/protocol.md in this repository.
package tss

import (
	"encoding/binary"
	"math/bits"
)

// Modulus is ℓ = 2^64 − 59, the largest 64-bit prime.
const Modulus uint64 = 1<<64 - 59

// fold is 2^64 mod ℓ.
const fold = 59

// Elem is an element of F_ℓ in [0, ℓ).
type Elem = uint64

// The arithmetic below is branch-free: carries and borrows from math/bits
// become all-zero or all-ones masks, so its timing does not depend on the
// values. The client evaluates the DHF (secret coefficients) with add and
// mul; the server's Detect and Rank use them too, on data it holds anyway,
// and branch on zero entries of the matrix (see dhf.go).

// add returns a + b mod ℓ for a, b < ℓ.
func add(a, b Elem) Elem {
	s, c := bits.Add64(a, b, 0)
	d, borrow := bits.Sub64(s, Modulus, 0)
	// a+b < 2ℓ. Subtract ℓ when the sum wrapped (c = 1; the wrapped
	// difference d is then s + 59, the right value) or is ≥ ℓ (no borrow).
	keep := -(c | (borrow ^ 1))
	return s ^ (keep & (s ^ d))
}

// sub returns a − b mod ℓ for a, b < ℓ.
func sub(a, b Elem) Elem {
	d, borrow := bits.Sub64(a, b, 0)
	return d + (Modulus & -borrow) // add ℓ back on a borrow (wrapping)
}

// neg returns −a mod ℓ for a < ℓ.
func neg(a Elem) Elem { return sub(0, a) }

// mul returns a·b mod ℓ for a, b < ℓ.
func mul(a, b Elem) Elem { return reduce(mulAdd(a, b, 0)) }

// mulAdd returns a value congruent to a·b + c mod ℓ, below 2^64 but not
// necessarily below ℓ, for any 64-bit a, b and c; reduce makes it
// canonical. It folds the high word with 2^64 ≡ 59 (mod ℓ). Horner steps
// chain it without reducing in between.
func mulAdd(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	// a·b + c ≤ 2^128 − 2^64, so the carry into hi cannot overflow.
	lo, k := bits.Add64(lo, c, 0)
	hi += k
	// hi·2^64 + lo ≡ hi·59 + lo; hi < 2^64, so hi·59 < 2^70.
	h2, l2 := bits.Mul64(hi, fold)
	l2, k = bits.Add64(l2, lo, 0)
	h2 += k
	// h2·2^64 + l2 with h2 ≤ 59: fold once more.
	r, k := bits.Add64(l2, h2*fold, 0)
	// The carry is 2^64 ≡ 59; r is then below 59·60, so no new carry.
	return r + k*fold
}

// reduce returns r mod ℓ for any 64-bit r (r < 2ℓ): r − ℓ when that does
// not borrow, else r.
func reduce(r uint64) Elem {
	d, borrow := bits.Sub64(r, Modulus, 0)
	keep := borrow - 1 // all ones when r ≥ ℓ
	return r ^ (keep & (r ^ d))
}

// ElemFrom128 reduces the 16-byte big-endian integer b mod ℓ, in time
// independent of b (it derives secret DHF coefficients and x₀ from PRF
// output; the bias of a 128-bit value mod ℓ is below 2^−64).
func ElemFrom128(b *[16]byte) Elem {
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	// hi·2^64 + lo ≡ hi·59 + lo (mod ℓ).
	h, l := bits.Mul64(hi, fold) // h < 59
	l, c := bits.Add64(l, lo, 0)
	h += c // h ≤ 59
	l, c = bits.Add64(l, h*fold, 0)
	l += c * fold // after a carry l < 59·60, so no second carry
	return reduce(l)
}

// sqrN returns a^(2^n).
func sqrN(a Elem, n int) Elem {
	for range n {
		a = mul(a, a)
	}
	return a
}

// inv returns a^(ℓ−2) = a⁻¹ for a ≠ 0 (and 0 for 0), by a fixed addition
// chain: ℓ−2 = 0xffffffffffffffc3 is 58 one bits, four zero bits and two
// one bits, so x_k = a^(2^k−1) for k = 2, 3, 5, 10, 20, 40, 50, 55, 58
// and a^(ℓ−2) = (x_58^(2^4))^(2^2) · x_2. 63 squarings and 10
// multiplications, the same for every a.
func inv(a Elem) Elem {
	x1 := a
	x2 := mul(sqrN(x1, 1), x1)
	x3 := mul(sqrN(x2, 1), x1)
	x5 := mul(sqrN(x3, 2), x2)
	x10 := mul(sqrN(x5, 5), x5)
	x20 := mul(sqrN(x10, 10), x10)
	x40 := mul(sqrN(x20, 20), x20)
	x50 := mul(sqrN(x40, 10), x10)
	x55 := mul(sqrN(x50, 5), x5)
	x58 := mul(sqrN(x55, 3), x3)
	return mul(sqrN(x58, 6), x2)
}
