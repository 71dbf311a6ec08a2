package tss

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// The Shamir field is the P-256 scalar field Z_q. The client-side
// operations (NewPolynomial, ScalarFromBytes, Secret, Share, CheckShare) run
// in constant time on the constant-time arithmetic of zq.go, since the
// coefficients and the values derived from them are device-local secrets
// (protocol.md §3.6). Recover uses the same arithmetic; its validity checks
// (share count, top bits, duplicate x, z < q) return early on malformed
// input, which reveals only that the input was malformed.

// XSize is the length of a share's x-coordinate: 128 bits, top bit set, so
// never zero (protocol.md §3.2).
const XSize = 16

// ZSize is the length of an encoded share value (a P-256 scalar).
const ZSize = 32

// Share is one Shamir share (x, f(x)).
type Share struct {
	X [XSize]byte
	Z [ZSize]byte // big-endian, < q
}

// Polynomial is a Shamir polynomial f(x) = a_0 + a_1·x + … + a_t·x^t over Z_q.
// a_0 is the secret.
type Polynomial struct {
	coeffs []scalar
}

// ErrScalarRange is returned for a 32-byte value that is not below the group order q.
var ErrScalarRange = errors.New("tss: scalar not below the P-256 group order")

// ErrZeroX is returned for a share whose x-coordinate has its top bit clear.
var ErrZeroX = errors.New("tss: share x-coordinate does not have its top bit set")

// NewPolynomial returns the polynomial with the given coefficients, each a
// 32-byte big-endian value below q; its degree t is len(coeffs)−1. The range
// checks run in constant time; only whether every coefficient is in range
// (and, if not, the index of the first one out of range) shows in the
// result.
func NewPolynomial(coeffs [][ZSize]byte) (*Polynomial, error) {
	if len(coeffs) < 1 {
		return nil, errors.New("tss: a polynomial needs at least one coefficient")
	}
	p := &Polynomial{coeffs: make([]scalar, len(coeffs))}
	for i := range coeffs {
		s, err := decodeScalar(&coeffs[i])
		if err != nil {
			return nil, fmt.Errorf("coefficient %d: %w", i, err)
		}
		p.coeffs[i] = s
	}
	return p, nil
}

// ScalarFromBytes reduces a big-endian integer of any length modulo q (used to
// derive coefficients from wide HKDF output, so the bias is negligible). It
// runs in constant time for a given len(b).
func ScalarFromBytes(b []byte) [ZSize]byte {
	v := scalarReduce(b)
	return v.bytes()
}

// Degree is t, the threshold: t+1 shares recover the secret.
func (p *Polynomial) Degree() int { return len(p.coeffs) - 1 }

// Secret returns a_0.
func (p *Polynomial) Secret() [ZSize]byte { return p.coeffs[0].bytes() }

// Share evaluates the polynomial at x (Horner's rule) in constant time. x
// must have its top bit set.
func (p *Polynomial) Share(x [XSize]byte) (Share, error) {
	if x[0]&0x80 == 0 {
		return Share{}, ErrZeroX
	}
	// With x in Montgomery form, montMul(acc, x·R) = acc·x: the accumulator
	// and the coefficients stay in the ordinary representation.
	xm := montMul(xScalar(x), rr)
	acc := p.coeffs[len(p.coeffs)-1]
	for i := len(p.coeffs) - 2; i >= 0; i-- {
		acc = scalarAdd(montMul(acc, xm), p.coeffs[i])
	}
	return Share{X: x, Z: acc.bytes()}, nil
}

// Recover interpolates the secret a_0 from exactly t+1 shares with distinct
// x-coordinates. It cannot tell a wrong share: callers check the result
// (here, by opening an AEAD with a key derived from it).
//
// Recover runs on the server, on shares it holds anyway; it uses the same
// constant-time arithmetic as the client, but returns early on malformed
// input.
func Recover(t int, shares []Share) ([ZSize]byte, error) {
	var zero [ZSize]byte
	if t < 0 || len(shares) != t+1 {
		return zero, fmt.Errorf("tss: recovery needs exactly t+1 = %d shares, got %d", t+1, len(shares))
	}
	n := len(shares)
	xs := make([]scalar, n)
	zs := make([]scalar, n)
	for i, s := range shares {
		if s.X[0]&0x80 == 0 {
			return zero, ErrZeroX
		}
		for j := range i {
			if subtle.ConstantTimeCompare(shares[j].X[:], s.X[:]) == 1 {
				return zero, fmt.Errorf("tss: shares %d and %d have the same x-coordinate", j, i)
			}
		}
		// Montgomery form, so that montMul of two of them stays in it.
		xs[i] = montMul(xScalar(s.X), rr)
		z, err := decodeScalar(&s.Z)
		if err != nil {
			return zero, fmt.Errorf("share %d: %w", i, err)
		}
		zs[i] = z
	}
	// a_0 = Σ z_i · num_i / den_i with num_i = Π_{j≠i} x_j and
	// den_i = Π_{j≠i} (x_j − x_i), all in Montgomery form. The
	// denominators are non-zero (distinct x below 2^128 < q) and are
	// inverted together with Montgomery's trick: one inversion in all.
	one := montMul(scalar{1}, rr)
	num := make([]scalar, n)
	den := make([]scalar, n)
	// num_i from prefix and suffix products.
	pre := one
	for i := range n {
		num[i] = pre
		pre = montMul(pre, xs[i])
	}
	suf := one
	for i := n - 1; i >= 0; i-- {
		num[i] = montMul(num[i], suf)
		suf = montMul(suf, xs[i])
	}
	for i := range n {
		d := one
		for j := range n {
			if j != i {
				d = montMul(d, scalarSub(xs[j], xs[i]))
			}
		}
		den[i] = d
	}
	// prod[i] = den_0 ⋯ den_{i−1}; invert den_0 ⋯ den_{n−1} once, then walk back.
	prod := make([]scalar, n)
	acc := one
	for i := range n {
		prod[i] = acc
		acc = montMul(acc, den[i])
	}
	// scalarInv takes and returns the ordinary representation: a·R in,
	// (a·R)⁻¹ out, which is a⁻¹·R⁻¹; two factors of R bring it back to
	// the Montgomery form a⁻¹·R.
	accInv := montMul(montMul(scalarInv(acc), rr), rr)
	var secret scalar // ordinary representation
	for i := n - 1; i >= 0; i-- {
		invDen := montMul(accInv, prod[i]) // (den_i)⁻¹·R
		accInv = montMul(accInv, den[i])
		// z_i is ordinary; two Montgomery factors leave an ordinary product.
		secret = scalarAdd(secret, montMul(montMul(num[i], invDen), zs[i]))
	}
	return secret.bytes(), nil
}

// CheckShare reports whether a 32-byte value is a valid share value (below q).
func CheckShare(z [ZSize]byte) error {
	_, err := decodeScalar(&z)
	return err
}

// decodeScalar decodes a 32-byte big-endian value below q. The comparison
// runs in constant time; only its outcome shows.
func decodeScalar(b *[ZSize]byte) (scalar, error) {
	v, lt := scalarFromBytes32(b)
	if lt != 1 {
		return scalar{}, ErrScalarRange
	}
	return v, nil
}

// xScalar returns a 128-bit x-coordinate as a scalar (x < 2^128 < q).
func xScalar(x [XSize]byte) scalar {
	return scalar{binary.BigEndian.Uint64(x[8:16]), binary.BigEndian.Uint64(x[0:8])}
}
