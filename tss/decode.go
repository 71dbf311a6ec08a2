package tss

import (
	"errors"
	"fmt"
)

// ErrUndecodable is returned by Decode when the shares do not lie on one
// polynomial of degree t up to the errors that unique decoding corrects.
var ErrUndecodable = errors.New("tss: shares are not on one degree-t polynomial within the correctable number of errors")

// MaxCorrectable is the number of wrong shares Decode corrects among m
// shares with distinct x-coordinates at degree t: ⌊(m−t−1)/2⌋ (0 when
// m ≤ t+1).
func MaxCorrectable(t, m int) int {
	if m <= t+1 {
		return 0
	}
	return (m - t - 1) / 2
}

// Decode recovers the secret a_0 from shares of which some may be wrong,
// by Reed–Solomon unique decoding of the Shamir polynomial
// (Berlekamp–Welch over Z_q): among m shares with distinct x-coordinates
// it corrects up to MaxCorrectable(t, m) wrong ones, whatever they hold,
// and returns the indices of the shares that are not on the decoded
// polynomial (sorted). Of shares that repeat an x-coordinate only the
// first takes part in the decoding (a wrong one counts as one error); the
// others are checked against its result.
//
// With more wrong shares than that it returns ErrUndecodable, or, rarely,
// a polynomial within that distance of the shares that is not the
// client's: the caller must check the secret (here, by opening an AEAD
// with the key derived from it). It never returns a secret on fewer than
// t+1 shares.
//
// Decode runs on the server, on shares it holds anyway, and is not
// constant-time. It tries e = 0, 1, … errors in turn, each a square linear
// system in t+2e+1 unknowns and a check of all m shares, so it costs
// O((t+2e)³ + m·t) per e: under a millisecond at t = 30 with no wrong
// share (plain interpolation and a check), a few with a handful.
func Decode(t int, shares []Share) (secret [ZSize]byte, bad []int, err error) {
	if t < 0 {
		return secret, nil, fmt.Errorf("tss: degree t=%d", t)
	}
	// Points in Montgomery form; the decoding set holds one share per x.
	n := len(shares)
	xs := make([]scalar, n)
	zs := make([]scalar, n)
	for i, s := range shares {
		if s.X[0]&0x80 == 0 {
			return secret, nil, fmt.Errorf("share %d: %w", i, ErrZeroX)
		}
		z, err := decodeScalar(&s.Z)
		if err != nil {
			return secret, nil, fmt.Errorf("share %d: %w", i, err)
		}
		xs[i] = montMul(xScalar(s.X), rr)
		zs[i] = montMul(z, rr)
	}
	// One share per x-coordinate takes part: the first. A later one with
	// a different value is checked against the result like any other.
	use := make([]int, 0, n)
	for i := range shares {
		first := true
		for j := 0; j < i; j++ {
			if shares[j].X == shares[i].X {
				first = false
				break
			}
		}
		if first {
			use = append(use, i)
		}
	}
	m := len(use)
	if m < t+1 {
		return secret, nil, fmt.Errorf("tss: decoding needs t+1 = %d shares with distinct x-coordinates, got %d", t+1, m)
	}
	ux := make([]scalar, m)
	uz := make([]scalar, m)
	for k, i := range use {
		ux[k], uz[k] = xs[i], zs[i]
	}
	// For e = 0, 1, …: solve the Berlekamp–Welch system on the first
	// t+2e+1 points only (a square system, cheap), then accept its f if it
	// is within emax of all m points. Any f so accepted is the one
	// closest codeword: two degree-t polynomials within emax of the same
	// points agree on m−2·emax ≥ t+1 of them. And the loop finds it by
	// e = emax at the latest, when the first t+2e+1 points hold at most e
	// of the wrong ones (the solution of a system with at most e errors
	// among its t+2e+1 points is f, whichever solution is taken).
	emax := MaxCorrectable(t, m)
	for e := 0; e <= emax; e++ {
		k := t + 2*e + 1
		f, ok := berlekampWelch(t, e, ux[:k], uz[:k])
		if !ok {
			continue
		}
		off := 0
		for i := range ux {
			if polyEval(f, ux[i]) != uz[i] {
				off++
			}
		}
		if off > emax {
			continue
		}
		for i := range shares {
			if polyEval(f, xs[i]) != zs[i] {
				bad = append(bad, i)
			}
		}
		a0 := montMul(f[0], scalar{1})
		return a0.bytes(), bad, nil
	}
	return secret, nil, ErrUndecodable
}

// berlekampWelch looks for E (monic, degree e) and Q (degree ≤ t+e) with
// Q(x_i) = z_i·E(x_i) for every i, and returns f = Q/E when E divides Q.
// All values are in Montgomery form.
func berlekampWelch(t, e int, xs, zs []scalar) ([]scalar, bool) {
	m := len(xs)
	nq := t + e + 1 // q_0 … q_{t+e}
	nv := nq + e    // then e_0 … e_{e−1}
	// Row i: Σ q_j·x_i^j − z_i·Σ e_j·x_i^j = z_i·x_i^e.
	a := make([][]scalar, m)
	one := montMul(scalar{1}, rr)
	for i := range a {
		row := make([]scalar, nv+1)
		p := one
		for j := 0; j < nq; j++ {
			row[j] = p
			if j < e {
				row[nq+j] = scalarSub(scalar{}, montMul(zs[i], p))
			}
			if j == e {
				row[nv] = montMul(zs[i], p)
			}
			p = montMul(p, xs[i])
		}
		a[i] = row
	}
	// Gaussian elimination to row-echelon form.
	pivots := make([]int, 0, nv)
	r := 0
	for c := 0; c < nv && r < m; c++ {
		p := -1
		for i := r; i < m; i++ {
			if a[i][c] != (scalar{}) {
				p = i
				break
			}
		}
		if p < 0 {
			continue
		}
		a[r], a[p] = a[p], a[r]
		inv := montInv(a[r][c])
		for j := c; j <= nv; j++ {
			a[r][j] = montMul(a[r][j], inv)
		}
		for i := r + 1; i < m; i++ {
			if f := a[i][c]; f != (scalar{}) {
				for j := c; j <= nv; j++ {
					a[i][j] = scalarSub(a[i][j], montMul(f, a[r][j]))
				}
			}
		}
		pivots = append(pivots, c)
		r++
	}
	for i := r; i < m; i++ {
		if a[i][nv] != (scalar{}) {
			return nil, false // inconsistent: more than e errors
		}
	}
	// Back substitution, free unknowns 0.
	sol := make([]scalar, nv)
	for k := len(pivots) - 1; k >= 0; k-- {
		c := pivots[k]
		v := a[k][nv]
		for j := c + 1; j < nv; j++ {
			if a[k][j] != (scalar{}) {
				v = scalarSub(v, montMul(a[k][j], sol[j]))
			}
		}
		sol[c] = v
	}
	// f = Q / E, E = x^e + Σ e_j x^j monic: long division, no inverses.
	q := sol[:nq]
	ecoef := make([]scalar, e+1)
	copy(ecoef, sol[nq:])
	ecoef[e] = one
	f := make([]scalar, t+1)
	for k := t + e; k >= e; k-- {
		c := q[k]
		f[k-e] = c
		if c == (scalar{}) {
			continue
		}
		for j := 0; j <= e; j++ {
			q[k-e+j] = scalarSub(q[k-e+j], montMul(c, ecoef[j]))
		}
	}
	for j := 0; j < e; j++ {
		if q[j] != (scalar{}) {
			return nil, false
		}
	}
	return f, true
}

// polyEval evaluates f at x (Montgomery form) by Horner's rule.
func polyEval(f []scalar, x scalar) scalar {
	acc := f[len(f)-1]
	for i := len(f) - 2; i >= 0; i-- {
		acc = scalarAdd(montMul(acc, x), f[i])
	}
	return acc
}

// montInv returns a⁻¹ in Montgomery form for a in Montgomery form.
func montInv(a scalar) scalar {
	// scalarInv(a·R) = a⁻¹·R⁻¹; two factors of R bring it to a⁻¹·R.
	return montMul(montMul(scalarInv(a), rr), rr)
}
