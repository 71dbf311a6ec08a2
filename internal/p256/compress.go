package p256

import (
	"errors"
	"sync"

	"filippo.io/nistec"
)

// ErrInfinity is returned by CompressBatch for the point at infinity, which
// has no 33-byte encoding.
var ErrInfinity = errors.New("p256: the point at infinity has no compressed encoding")

// CompressBatch sets out[i] to the compressed SEC 1 encoding of ps[i], the
// bytes ps[i].BytesCompressed() returns. Where this package can read
// nistec's Jacobian coordinates (nistec's assembly builds, checked once
// against BytesCompressed), the points share one field inversion
// (Montgomery's trick: one inversion and 3(n−1) multiplications instead of
// n inversions), done by nistec's own constant-time inversion; elsewhere it
// calls BytesCompressed on each point. It runs in constant time with
// respect to the points' coordinates. It returns ErrInfinity, with out
// unspecified, if some point is the point at infinity. len(out) must be at
// least len(ps).
func CompressBatch(out [][33]byte, ps []*nistec.P256Point) error {
	if len(out) < len(ps) {
		panic("p256: CompressBatch output too short")
	}
	if !fastCompressOK() {
		return compressEach(out, ps)
	}
	for len(ps) > 0 {
		n := min(len(ps), maxBatch)
		if err := compressBatch(out[:n], ps[:n]); err != nil {
			return err
		}
		out, ps = out[n:], ps[n:]
	}
	return nil
}

const maxBatch = 8

func compressEach(out [][33]byte, ps []*nistec.P256Point) error {
	for i, p := range ps {
		if p.IsInfinity() == 1 {
			return ErrInfinity
		}
		copy(out[i][:], p.BytesCompressed())
	}
	return nil
}

// compressBatch is CompressBatch for at most maxBatch points on the fast path.
func compressBatch(out [][33]byte, ps []*nistec.P256Point) error {
	n := len(ps)
	if n == 0 {
		return nil
	}
	// acc[i] = Z_0·…·Z_i.
	var acc [maxBatch]fe
	acc[0] = jacobianOf(ps[0]).z
	for i := 1; i < n; i++ {
		feMul(&acc[i], &acc[i-1], &jacobianOf(ps[i]).z)
	}
	// A zero product means some Z = 0, the point at infinity: public (it
	// never happens for the scalar multiples of valid points Match makes).
	inv, ok := invertWithNistec(&acc[n-1])
	if !ok {
		return ErrInfinity
	}
	for i := n - 1; i >= 0; i-- {
		j := jacobianOf(ps[i])
		var zi fe // Z_i⁻¹
		if i > 0 {
			feMul(&zi, &inv, &acc[i-1])
			feMul(&inv, &inv, &j.z)
		} else {
			zi = inv
		}
		var zi2, x, y fe
		feSquare(&zi2, &zi)
		feMul(&x, &j.x, &zi2)
		feMul(&zi2, &zi2, &zi)
		feMul(&y, &j.y, &zi2)
		out[i][0] = 2 | byte(sgn0(&y))
		feBytes(out[i][1:], &x)
	}
	return nil
}

// invertWithNistec returns z⁻¹ using nistec's assembly inversion: the point
// with Jacobian coordinates (z, z, z) has affine x = z/z² = z⁻¹, which
// BytesX returns canonical and big-endian. ok is false for z = 0.
func invertWithNistec(z *fe) (inv fe, ok bool) {
	var s nistec.P256Point
	j := jacobianOf(&s)
	j.x, j.y, j.z = *z, *z, *z
	b, err := s.BytesX()
	if err != nil {
		return inv, false
	}
	feSetBytes32(&inv, b)
	return inv, true
}

// fastCompressOK reports whether the fast path is available: nistec's point
// has the layout jacobianOf assumes (size checked, and the encodings of a
// few points with Z ≠ 1 and of a known inverse agree with nistec's own).
var fastCompressOK = sync.OnceValue(func() bool {
	if !layoutMatches() {
		return false
	}
	k := make([]byte, 32)
	p := nistec.NewP256Point()
	for i := 1; i <= 6; i++ {
		k[31], k[7] = byte(i*37+1), byte(i)
		if _, err := p.ScalarBaseMult(k); err != nil {
			return false
		}
		q, err := nistec.NewP256Point().ScalarMult(p, k)
		if err != nil {
			return false
		}
		q.Add(q, p)
		var out [2][33]byte
		if compressBatch(out[:], []*nistec.P256Point{p, q}) != nil ||
			string(out[0][:]) != string(p.BytesCompressed()) ||
			string(out[1][:]) != string(q.BytesCompressed()) {
			return false
		}
	}
	var two, inv, prod fe
	toMont(&two, &[4]uint64{2})
	inv, ok := invertWithNistec(&two)
	feMul(&prod, &inv, &two)
	return ok && feEqual(&prod, &one) == 1
})
