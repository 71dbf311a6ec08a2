package tss

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"

	"github.com/cloudflare/circl/group"
)

// The Shamir field is the P-256 scalar field Z_q. Its arithmetic comes from
// circl, whose P-256 scalars use math/big and are not constant-time; the
// values involved stay on the device that computes them (protocol.md §3.6).
var curve = group.P256

// order is q, the order of the P-256 group.
var order, _ = new(big.Int).SetString("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)

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
	coeffs []group.Scalar
}

// ErrScalarRange is returned for a 32-byte value that is not below the group order q.
var ErrScalarRange = errors.New("tss: scalar not below the P-256 group order")

// ErrZeroX is returned for a share whose x-coordinate has its top bit clear.
var ErrZeroX = errors.New("tss: share x-coordinate does not have its top bit set")

// NewPolynomial returns the polynomial with the given coefficients, each a
// 32-byte big-endian value below q; its degree t is len(coeffs)−1.
func NewPolynomial(coeffs [][ZSize]byte) (*Polynomial, error) {
	if len(coeffs) < 1 {
		return nil, errors.New("tss: a polynomial needs at least one coefficient")
	}
	p := &Polynomial{coeffs: make([]group.Scalar, len(coeffs))}
	for i := range coeffs {
		s, err := scalar(coeffs[i][:])
		if err != nil {
			return nil, fmt.Errorf("coefficient %d: %w", i, err)
		}
		p.coeffs[i] = s
	}
	return p, nil
}

// ScalarFromBytes reduces a big-endian integer of any length modulo q (used to
// derive coefficients from wide HKDF output, so the bias is negligible).
func ScalarFromBytes(b []byte) [ZSize]byte {
	var out [ZSize]byte
	v := new(big.Int).SetBytes(b)
	v.Mod(v, order)
	v.FillBytes(out[:])
	return out
}

// Degree is t, the threshold: t+1 shares recover the secret.
func (p *Polynomial) Degree() int { return len(p.coeffs) - 1 }

// Secret returns a_0.
func (p *Polynomial) Secret() [ZSize]byte { return encode(p.coeffs[0]) }

// Share evaluates the polynomial at x (Horner's rule). x must have its top bit set.
func (p *Polynomial) Share(x [XSize]byte) (Share, error) {
	if x[0]&0x80 == 0 {
		return Share{}, ErrZeroX
	}
	xs := xScalar(x)
	acc := curve.NewScalar().Set(p.coeffs[len(p.coeffs)-1])
	for i := len(p.coeffs) - 2; i >= 0; i-- {
		acc.Mul(acc, xs)
		acc.Add(acc, p.coeffs[i])
	}
	return Share{X: x, Z: encode(acc)}, nil
}

// Recover interpolates the secret a_0 from exactly t+1 shares with distinct
// x-coordinates. It cannot tell a wrong share: callers check the result
// (here, by opening an AEAD with a key derived from it).
func Recover(t int, shares []Share) ([ZSize]byte, error) {
	var zero [ZSize]byte
	if t < 0 || len(shares) != t+1 {
		return zero, fmt.Errorf("tss: recovery needs exactly t+1 = %d shares, got %d", t+1, len(shares))
	}
	xs := make([]group.Scalar, len(shares))
	zs := make([]group.Scalar, len(shares))
	for i, s := range shares {
		if s.X[0]&0x80 == 0 {
			return zero, ErrZeroX
		}
		for j := range i {
			if subtle.ConstantTimeCompare(shares[j].X[:], s.X[:]) == 1 {
				return zero, fmt.Errorf("tss: shares %d and %d have the same x-coordinate", j, i)
			}
		}
		xs[i] = xScalar(s.X)
		z, err := scalar(s.Z[:])
		if err != nil {
			return zero, fmt.Errorf("share %d: %w", i, err)
		}
		zs[i] = z
	}
	// a_0 = Σ z_i · Π_{j≠i} x_j / (x_j − x_i). Accumulate numerator and
	// denominator per term and invert once per term.
	secret := curve.NewScalar()
	num, den, d := curve.NewScalar(), curve.NewScalar(), curve.NewScalar()
	for i := range xs {
		num.SetUint64(1)
		den.SetUint64(1)
		for j := range xs {
			if j == i {
				continue
			}
			num.Mul(num, xs[j])
			d.Sub(xs[j], xs[i])
			den.Mul(den, d)
		}
		den.Inv(den)
		num.Mul(num, den)
		num.Mul(num, zs[i])
		secret.Add(secret, num)
	}
	return encode(secret), nil
}

// CheckShare reports whether a 32-byte value is a valid share value (below q).
func CheckShare(z [ZSize]byte) error {
	_, err := scalar(z[:])
	return err
}

func scalar(b []byte) (group.Scalar, error) {
	s := curve.NewScalar()
	// circl reduces out-of-range input silently; a value ≥ q is malformed here.
	if new(big.Int).SetBytes(b).Cmp(order) >= 0 {
		return nil, ErrScalarRange
	}
	if err := s.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return s, nil
}

func xScalar(x [XSize]byte) group.Scalar {
	var b [ZSize]byte
	copy(b[ZSize-XSize:], x[:])
	s := curve.NewScalar()
	if err := s.UnmarshalBinary(b[:]); err != nil {
		panic("tss: 128-bit x does not fit a scalar") // cannot happen: x < 2^128 < q
	}
	return s
}

func encode(s group.Scalar) [ZSize]byte {
	var out [ZSize]byte
	b, err := s.MarshalBinary()
	if err != nil || len(b) != ZSize {
		panic("tss: P-256 scalar did not encode to 32 bytes")
	}
	copy(out[:], b)
	return out
}
