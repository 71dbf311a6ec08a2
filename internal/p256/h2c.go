package p256

import (
	"crypto/sha256"
	"errors"
	"math/big"

	"filippo.io/nistec"
)

// Curve constants in Montgomery form: A = −3, B, and the SSWU Z = −10.
var (
	feA, feB, feZ fe
	feC2          fe // sqrt(−Z) = sqrt(10), for sqrt_ratio
)

func init() {
	var three, ten [4]uint64
	three[0], ten[0] = 3, 10
	var t3, t10 fe
	toMont(&t3, &three)
	toMont(&t10, &ten)
	feNeg(&feA, &t3)
	feNeg(&feZ, &t10)
	var b [32]byte
	bHex := "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"
	for i := range b {
		b[i] = unhex(bHex[2*i])<<4 | unhex(bHex[2*i+1])
	}
	feSetBytes32(&feB, b[:])
	fePow(&feC2, &t10, &expSqrt)
	var chk fe
	feSquare(&chk, &feC2)
	if feEqual(&chk, &t10) != 1 {
		panic("p256: 10 is not a square mod p") // cannot happen
	}
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// ExpandMessageXMD is RFC 9380 §5.3.1 expand_message_xmd with SHA-256.
// It returns an error when n > 8160 or the DST is longer than 255 bytes.
func ExpandMessageXMD(msg, dst []byte, n int) ([]byte, error) {
	const bLen = sha256.Size
	ell := (n + bLen - 1) / bLen
	if ell > 255 || n > 65535 || n < 1 {
		return nil, errors.New("p256: expand_message_xmd output length out of range")
	}
	if len(dst) > 255 {
		return nil, errors.New("p256: DST longer than 255 bytes")
	}
	h := sha256.New()
	var zpad [sha256.BlockSize]byte
	h.Write(zpad[:])
	h.Write(msg)
	h.Write([]byte{byte(n >> 8), byte(n), 0})
	h.Write(dst)
	h.Write([]byte{byte(len(dst))})
	var b0, bi [bLen]byte
	h.Sum(b0[:0])
	out := make([]byte, 0, ell*bLen)
	for i := 1; i <= ell; i++ {
		h.Reset()
		if i == 1 {
			h.Write(b0[:])
		} else {
			var x [bLen]byte
			for j := range x {
				x[j] = b0[j] ^ bi[j]
			}
			h.Write(x[:])
		}
		h.Write([]byte{byte(i)})
		h.Write(dst)
		h.Write([]byte{byte(len(dst))})
		h.Sum(bi[:0])
		out = append(out, bi[:]...)
	}
	return out[:n], nil
}

// sqrtRatio is RFC 9380 F.2.1.2 for q ≡ 3 (mod 4): it returns (1, sqrt(u/v))
// if u/v is a square and (0, sqrt(Z·u/v)) otherwise, in constant time.
func sqrtRatio(y, u, v *fe) uint64 {
	var tv1, tv2, tv3, y1, y2 fe
	feSquare(&tv1, v)
	feMul(&tv2, u, v)
	feMul(&tv1, &tv1, &tv2)
	fePow(&y1, &tv1, &expC1)
	feMul(&y1, &y1, &tv2)
	feMul(&y2, &y1, &feC2)
	feSquare(&tv3, &y1)
	feMul(&tv3, &tv3, v)
	isQR := feEqual(&tv3, u)
	feSelect(y, &y1, &y2, isQR)
	return isQR
}

// mapToCurve is RFC 9380 F.2 (simplified SWU, straight-line). It returns
// x as a fraction xn/xd and y, all in Montgomery form; xd ≠ 0.
func mapToCurve(xn, xd, y, u *fe) {
	var tv1, tv2, tv3, tv4, tv5, tv6, x fe
	feSquare(&tv1, u)
	feMul(&tv1, &feZ, &tv1)
	feSquare(&tv2, &tv1)
	feAdd(&tv2, &tv2, &tv1)
	feAdd(&tv3, &tv2, &one)
	feMul(&tv3, &feB, &tv3)
	var negTv2 fe
	feNeg(&negTv2, &tv2)
	feSelect(&tv4, &negTv2, &feZ, 1^feIsZero(&tv2))
	feMul(&tv4, &feA, &tv4)
	feSquare(&tv2, &tv3)
	feSquare(&tv6, &tv4)
	feMul(&tv5, &feA, &tv6)
	feAdd(&tv2, &tv2, &tv5)
	feMul(&tv2, &tv2, &tv3)
	feMul(&tv6, &tv6, &tv4)
	feMul(&tv5, &feB, &tv6)
	feAdd(&tv2, &tv2, &tv5)
	feMul(&x, &tv1, &tv3)
	var y1 fe
	isGx1Square := sqrtRatio(&y1, &tv2, &tv6)
	feMul(y, &tv1, u)
	feMul(y, y, &y1)
	feSelect(&x, &tv3, &x, isGx1Square)
	feSelect(y, &y1, y, isGx1Square)
	e1 := 1 ^ (sgn0(u) ^ sgn0(y))
	var negY fe
	feNeg(&negY, y)
	feSelect(y, y, &negY, e1)
	*xn = x
	*xd = tv4
}

// HashToField is RFC 9380 hash_to_field for P-256 with expand_message_xmd
// (SHA-256), count = 2, L = 48; it returns u0, u1 as 32-byte big-endian values.
func HashToField(msg, dst []byte) (u0, u1 [32]byte, err error) {
	uniform, err := ExpandMessageXMD(msg, dst, 96)
	if err != nil {
		return u0, u1, err
	}
	var e fe
	feSetBytes48(&e, uniform[0:48])
	feBytes(u0[:], &e)
	feSetBytes48(&e, uniform[48:96])
	feBytes(u1[:], &e)
	return u0, u1, nil
}

// ErrIdentity is returned when hashing produced the point at infinity
// (probability about 2^-256).
var ErrIdentity = errors.New("p256: hash to curve gave the point at infinity")

// HashToPoint is RFC 9380 P256_XMD:SHA-256_SSWU_RO_: hash_to_field into two
// elements, two simplified-SWU maps, one shared inversion for both
// x-coordinates, then a point addition (the cofactor is 1). It runs in
// constant time with respect to msg apart from SHA-256's length dependence.
func HashToPoint(msg, dst []byte) (*nistec.P256Point, error) {
	uniform, err := ExpandMessageXMD(msg, dst, 96)
	if err != nil {
		return nil, err
	}
	var u0, u1 fe
	feSetBytes48(&u0, uniform[0:48])
	feSetBytes48(&u1, uniform[48:96])
	var xn0, xd0, y0, xn1, xd1, y1 fe
	mapToCurve(&xn0, &xd0, &y0, &u0)
	mapToCurve(&xn1, &xd1, &y1, &u1)
	// Montgomery's trick: one inversion for both denominators.
	var d, di, x0, x1 fe
	feMul(&d, &xd0, &xd1)
	feInv(&di, &d)
	feMul(&x0, &di, &xd1)
	feMul(&x0, &x0, &xn0)
	feMul(&x1, &di, &xd0)
	feMul(&x1, &x1, &xn1)
	var enc [65]byte
	enc[0] = 4
	feBytes(enc[1:33], &x0)
	feBytes(enc[33:65], &y0)
	p0, err := nistec.NewP256Point().SetBytes(enc[:])
	if err != nil {
		return nil, errors.New("p256: SSWU map left the curve") // cannot happen
	}
	feBytes(enc[1:33], &x1)
	feBytes(enc[33:65], &y1)
	p1, err := nistec.NewP256Point().SetBytes(enc[:])
	if err != nil {
		return nil, errors.New("p256: SSWU map left the curve") // cannot happen
	}
	p0.Add(p0, p1)
	if p0.IsInfinity() == 1 {
		return nil, ErrIdentity
	}
	return p0, nil
}

// Order is q, the order of the P-256 group.
var Order, _ = new(big.Int).SetString("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)

// HashToScalar is hash_to_field into Z_q with expand_message_xmd (SHA-256)
// and L = 48, as circl's group.P256.HashToScalar; it returns 32 bytes
// big-endian. It uses math/big (not constant-time): it is for server-side
// values only.
func HashToScalar(msg, dst []byte) ([32]byte, error) {
	var out [32]byte
	uniform, err := ExpandMessageXMD(msg, dst, 48)
	if err != nil {
		return out, err
	}
	v := new(big.Int).SetBytes(uniform)
	v.Mod(v, Order)
	v.FillBytes(out[:])
	return out, nil
}
