package tss

import (
	"bytes"
	"encoding/binary"
	"math/big"
	"math/rand/v2"
	"testing"
)

var (
	qBig = new(big.Int).SetBytes(qLimbs.be())
	rBig = new(big.Int).Lsh(big.NewInt(1), 256)
)

// be returns v as 32 big-endian bytes (for tests; v need not be below q).
func (v scalar) be() []byte { b := v.bytes(); return b[:] }

func scalarOfBig(x *big.Int) scalar {
	var b [ZSize]byte
	x.FillBytes(b[:])
	v, _ := scalarFromBytes32(&b)
	return v
}

func bigOfScalar(v scalar) *big.Int { return new(big.Int).SetBytes(v.be()) }

// scalarEdges are values below q that exercise carries and the final
// subtractions: 0, 1, q−1, q−2, limb boundaries and (q−1)/2 neighbours.
func scalarEdges() []*big.Int {
	one := big.NewInt(1)
	qm1 := new(big.Int).Sub(qBig, one)
	out := []*big.Int{
		big.NewInt(0), one, big.NewInt(2), qm1, new(big.Int).Sub(qBig, big.NewInt(2)),
		new(big.Int).Rsh(qBig, 1), new(big.Int).Add(new(big.Int).Rsh(qBig, 1), one),
	}
	for _, k := range []uint{63, 64, 127, 128, 191, 192, 255} {
		p := new(big.Int).Lsh(one, k)
		out = append(out, p, new(big.Int).Sub(p, one))
	}
	// R mod q and R² mod q, the Montgomery constants.
	out = append(out, new(big.Int).Mod(rBig, qBig), bigOfScalar(rr))
	return out
}

func randScalarBig(r *rand.Rand) *big.Int {
	var b [ZSize]byte
	for {
		for i := 0; i < ZSize; i += 8 {
			binary.BigEndian.PutUint64(b[i:], r.Uint64())
		}
		if v := new(big.Int).SetBytes(b[:]); v.Cmp(qBig) < 0 {
			return v
		}
	}
}

func TestScalarConstants(t *testing.T) {
	want, _ := new(big.Int).SetString("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)
	if qBig.Cmp(want) != 0 {
		t.Fatalf("q = %x", qBig)
	}
	// qInv·q ≡ −1 (mod 2^64).
	if qInv*qLimbs[0] != ^uint64(0) {
		t.Fatal("qInv is not −q⁻¹ mod 2^64")
	}
	rr2 := new(big.Int).Mul(rBig, rBig)
	if bigOfScalar(rr).Cmp(rr2.Mod(rr2, qBig)) != 0 {
		t.Fatal("rr is not R² mod q")
	}
}

// check compares one Z_q operation against math/big.
func checkScalarOps(t *testing.T, A, B *big.Int) {
	t.Helper()
	a, b := scalarOfBig(A), scalarOfBig(B)
	eq := func(op string, got scalar, want *big.Int) {
		t.Helper()
		want.Mod(want, qBig)
		if bigOfScalar(got).Cmp(want) != 0 {
			t.Fatalf("%s(%x, %x) = %x, want %x", op, A, B, bigOfScalar(got), want)
		}
	}
	eq("add", scalarAdd(a, b), new(big.Int).Add(A, B))
	eq("sub", scalarSub(a, b), new(big.Int).Sub(A, B))
	// montMul(a, b) = a·b·R⁻¹; montMul(a, b·R) = a·b.
	rInv := new(big.Int).ModInverse(rBig, qBig)
	eq("montMul", montMul(a, b), new(big.Int).Mul(new(big.Int).Mul(A, B), rInv))
	eq("mul", montMul(a, montMul(b, rr)), new(big.Int).Mul(A, B))
}

func TestScalarMatchesBig(t *testing.T) {
	edge := scalarEdges()
	for _, a := range edge {
		for _, b := range edge {
			checkScalarOps(t, a, b)
		}
	}
	r := rng(11)
	for range 20000 {
		checkScalarOps(t, randScalarBig(r), randScalarBig(r))
	}
	for i, A := range append(edge, randScalarBig(r), randScalarBig(r), randScalarBig(r)) {
		got := bigOfScalar(scalarInv(scalarOfBig(A)))
		want := new(big.Int).ModInverse(A, qBig)
		if want == nil {
			want = new(big.Int) // 0⁻¹ is 0 by convention
		}
		if got.Cmp(want) != 0 {
			t.Fatalf("inv #%d (%x) = %x, want %x", i, A, got, want)
		}
	}
}

func TestScalarFromBytes32Range(t *testing.T) {
	one := big.NewInt(1)
	max := new(big.Int).Sub(rBig, one)
	for _, c := range []struct {
		v  *big.Int
		lt uint64
	}{
		{big.NewInt(0), 1}, {one, 1}, {new(big.Int).Sub(qBig, one), 1},
		{qBig, 0}, {new(big.Int).Add(qBig, one), 0}, {max, 0},
		{new(big.Int).Lsh(one, 255), 1}, {new(big.Int).SetUint64(1<<64 - 1), 1},
	} {
		var b [ZSize]byte
		c.v.FillBytes(b[:])
		v, lt := scalarFromBytes32(&b)
		if lt != c.lt || bigOfScalar(v).Cmp(c.v) != 0 {
			t.Errorf("scalarFromBytes32(%x) = %x, %d; want lt %d", c.v, bigOfScalar(v), lt, c.lt)
		}
		err := CheckShare(b)
		if (err == nil) != (c.lt == 1) {
			t.Errorf("CheckShare(%x) = %v", c.v, err)
		}
	}
}

func checkReduce(t *testing.T, b []byte) {
	t.Helper()
	want := new(big.Int).SetBytes(b)
	want.Mod(want, qBig)
	var w [ZSize]byte
	want.FillBytes(w[:])
	if got := ScalarFromBytes(b); got != w {
		t.Fatalf("ScalarFromBytes(%x) = %x, want %x", b, got, w)
	}
}

func TestScalarFromBytes(t *testing.T) {
	r := rng(12)
	for n := 0; n <= 100; n++ {
		for range 50 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			checkReduce(t, b)
		}
		checkReduce(t, bytes.Repeat([]byte{0xff}, n))
		checkReduce(t, make([]byte, n))
	}
	// Multiples of q and their neighbours, in 32, 48 and 64 bytes.
	for _, n := range []int{32, 48, 64} {
		for _, k := range []int64{1, 2, 3, 1 << 40} {
			m := new(big.Int).Mul(qBig, big.NewInt(k))
			for _, d := range []int64{-1, 0, 1} {
				v := new(big.Int).Add(m, big.NewInt(d))
				if v.BitLen() > 8*n {
					continue
				}
				b := make([]byte, n)
				v.FillBytes(b)
				checkReduce(t, b)
			}
		}
	}
}

// bigHorner evaluates the polynomial at x with math/big.
func bigHorner(cs [][ZSize]byte, x [XSize]byte) [ZSize]byte {
	X := new(big.Int).SetBytes(x[:])
	acc := new(big.Int)
	for i := len(cs) - 1; i >= 0; i-- {
		acc.Mul(acc, X).Add(acc, new(big.Int).SetBytes(cs[i][:])).Mod(acc, qBig)
	}
	var out [ZSize]byte
	acc.FillBytes(out[:])
	return out
}

// bigLagrange interpolates f(0) with math/big.
func bigLagrange(shares []Share) [ZSize]byte {
	sum := new(big.Int)
	for i, si := range shares {
		num, den := big.NewInt(1), big.NewInt(1)
		xi := new(big.Int).SetBytes(si.X[:])
		for j, sj := range shares {
			if j == i {
				continue
			}
			xj := new(big.Int).SetBytes(sj.X[:])
			num.Mul(num, xj).Mod(num, qBig)
			den.Mul(den, new(big.Int).Sub(xj, xi)).Mod(den, qBig)
		}
		term := num.Mul(num, den.ModInverse(den, qBig))
		term.Mul(term, new(big.Int).SetBytes(si.Z[:]))
		sum.Add(sum, term).Mod(sum, qBig)
	}
	var out [ZSize]byte
	sum.FillBytes(out[:])
	return out
}

func TestShamirMatchesBig(t *testing.T) {
	r := rng(13)
	qm1 := new(big.Int).Sub(qBig, big.NewInt(1))
	var top [ZSize]byte
	qm1.FillBytes(top[:])
	var xMax [XSize]byte
	for i := range xMax {
		xMax[i] = 0xff
	}
	xMin := [XSize]byte{0x80}
	for _, th := range []int{0, 1, 2, 30} {
		for trial := range 20 {
			cs := make([][ZSize]byte, th+1)
			for i := range cs {
				switch {
				case trial == 0:
					cs[i] = top // every coefficient q−1
				case trial == 1 && i%2 == 0:
					// zero coefficients, alternating with random ones
				default:
					randScalarBig(r).FillBytes(cs[i][:])
				}
			}
			p, err := NewPolynomial(cs)
			if err != nil {
				t.Fatal(err)
			}
			if p.Secret() != cs[0] {
				t.Fatal("Secret is not a_0")
			}
			shares := make([]Share, th+1)
			for i := range shares {
				x := xOf(r)
				switch {
				case i == 0 && trial < 2:
					x = xMax
				case i == 1 && trial < 2:
					x = xMin
				}
				sh, err := p.Share(x)
				if err != nil {
					t.Fatal(err)
				}
				if want := bigHorner(cs, x); sh.Z != want {
					t.Fatalf("t=%d: Share(%x) = %x, want %x", th, x, sh.Z, want)
				}
				shares[i] = sh
			}
			got, err := Recover(th, shares)
			if err != nil {
				t.Fatal(err)
			}
			if got != cs[0] || got != bigLagrange(shares) {
				t.Fatalf("t=%d: Recover = %x, want %x", th, got, cs[0])
			}
			// Arbitrary z values (not on one low-degree polynomial) must
			// interpolate exactly as math/big does.
			for i := range shares {
				randScalarBig(r).FillBytes(shares[i].Z[:])
			}
			if got, _ := Recover(th, shares); got != bigLagrange(shares) {
				t.Fatalf("t=%d: Recover of random shares differs from math/big", th)
			}
		}
	}
}

// FuzzScalar cross-checks the Z_q arithmetic and the wide reduction against
// math/big on arbitrary inputs.
func FuzzScalar(f *testing.F) {
	f.Add(make([]byte, 64))
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Add(append(qLimbs.be(), qLimbs.be()...))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkReduce(t, b)
		if len(b) < 64 {
			return
		}
		A := new(big.Int).SetBytes(b[:32])
		B := new(big.Int).SetBytes(b[32:64])
		checkScalarOps(t, A.Mod(A, qBig), B.Mod(B, qBig))
	})
}

func BenchmarkScalar(b *testing.B) {
	r := rng(14)
	x, y := scalarOfBig(randScalarBig(r)), scalarOfBig(randScalarBig(r))
	b.Run("montMul", func(b *testing.B) {
		for b.Loop() {
			x = montMul(x, y)
		}
	})
	b.Run("add", func(b *testing.B) {
		for b.Loop() {
			x = scalarAdd(x, y)
		}
	})
	b.Run("inv", func(b *testing.B) {
		for b.Loop() {
			x = scalarInv(x)
		}
	})
	b.Run("reduce48", func(b *testing.B) {
		buf := make([]byte, 48)
		for b.Loop() {
			ScalarFromBytes(buf)
		}
	})
}
