// Package tss implements the threshold secret sharing of the Apple PSI
// system: Shamir t-of-n sharing over the P-256 scalar field with 128-bit
// x-coordinates, and the detectable hash function (DHF) over F_ℓ,
// ℓ = 2^64 − 59, whose kernel-based decoder picks the real shares out of a
// set mixed with synthetic (random) ones.
//
// See protocol.md §3.1, §4.2 and §4.3. The DHF is weakly t-wise independent:
// any t real DHF values are uniformly distributed, exactly like random ones,
// so nothing distinguishes ≤ t real shares from synthetic ones; with t+1 or
// more real values among at most s random ones, Detect finds exactly the
// real ones.
package tss

import "math/bits"

// Modulus is ℓ = 2^64 − 59, the largest 64-bit prime.
const Modulus uint64 = 1<<64 - 59

// fold is 2^64 mod ℓ.
const fold = 59

// Elem is an element of F_ℓ in [0, ℓ).
type Elem = uint64

func add(a, b Elem) Elem {
	s, c := bits.Add64(a, b, 0)
	// a+b < 2ℓ; subtract ℓ when it wrapped or is ≥ ℓ.
	if c != 0 || s >= Modulus {
		s -= Modulus // with wrap-around this is s + 59
	}
	return s
}

func sub(a, b Elem) Elem {
	d, borrow := bits.Sub64(a, b, 0)
	if borrow != 0 {
		d += Modulus
	}
	return d
}

func neg(a Elem) Elem {
	if a == 0 {
		return 0
	}
	return Modulus - a
}

// mul returns a·b mod ℓ, folding the high word with 2^64 ≡ 59 (mod ℓ).
func mul(a, b Elem) Elem {
	hi, lo := bits.Mul64(a, b)
	// hi·2^64 + lo ≡ hi·59 + lo; hi < 2^64, so hi·59 < 2^70.
	h2, l2 := bits.Mul64(hi, fold)
	l2, c := bits.Add64(l2, lo, 0)
	h2 += c
	// h2·2^64 + l2 with h2 < 2^6 + 1: fold once more.
	r, c := bits.Add64(l2, h2*fold, 0)
	if c != 0 {
		r += fold // the carry is 2^64 ≡ 59; r is small here, so no new carry
	}
	if r >= Modulus {
		r -= Modulus
	}
	return r
}

// inv returns a^(ℓ−2) = a⁻¹ for a ≠ 0 (and 0 for 0).
func inv(a Elem) Elem {
	r := Elem(1)
	e := Modulus - 2
	for e > 0 {
		if e&1 != 0 {
			r = mul(r, a)
		}
		a = mul(a, a)
		e >>= 1
	}
	return r
}
