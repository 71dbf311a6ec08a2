package tss

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

var ell = new(big.Int).SetUint64(Modulus)

func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x7553)) }

func randElem(r *rand.Rand) Elem {
	for {
		if v := r.Uint64(); v < Modulus {
			return v
		}
	}
}

// checkField compares the F_ℓ operations on a, b (< ℓ) and mulAdd and
// reduce on arbitrary 64-bit u, v, w against math/big.
func checkField(t *testing.T, a, b, u, v, w uint64) {
	t.Helper()
	A, B := new(big.Int).SetUint64(a), new(big.Int).SetUint64(b)
	check := func(op string, got Elem, want *big.Int) {
		t.Helper()
		want.Mod(want, ell)
		if got != want.Uint64() {
			t.Fatalf("%s(%d, %d) = %d, want %d", op, a, b, got, want)
		}
	}
	check("add", add(a, b), new(big.Int).Add(A, B))
	check("sub", sub(a, b), new(big.Int).Sub(A, B))
	check("neg", neg(a), new(big.Int).Neg(A))
	check("mul", mul(a, b), new(big.Int).Mul(A, B))
	wantInv := new(big.Int).ModInverse(A, ell)
	if wantInv == nil {
		wantInv = new(big.Int) // 0⁻¹ is 0 by convention
	}
	check("inv", inv(a), wantInv)
	// mulAdd takes any 64-bit inputs and returns a 64-bit value congruent
	// to u·v + w; reduce makes any 64-bit value canonical.
	U, V, W := new(big.Int).SetUint64(u), new(big.Int).SetUint64(v), new(big.Int).SetUint64(w)
	want := new(big.Int).Mul(U, V)
	want.Add(want, W).Mod(want, ell)
	if got := reduce(mulAdd(u, v, w)); got != want.Uint64() {
		t.Fatalf("mulAdd(%d, %d, %d) = %d, want %d", u, v, w, got, want)
	}
	if got := reduce(u); got != new(big.Int).Mod(U, ell).Uint64() {
		t.Fatalf("reduce(%d) = %d", u, got)
	}
}

func TestFieldMatchesBig(t *testing.T) {
	r := rng(1)
	edge := []Elem{0, 1, 2, 58, 59, 60, Modulus - 1, Modulus - 2, 1 << 63, 1<<64 - 60, 1<<32 - 1, 1 << 32}
	// Inputs to mulAdd and reduce need not be below ℓ.
	wide := append(slices.Clone(edge), Modulus, Modulus+1, 1<<64-2, 1<<64-1)
	for _, a := range edge {
		for _, b := range edge {
			checkField(t, a, b, a, b, b)
		}
	}
	for _, u := range wide {
		for _, v := range wide {
			for _, w := range wide {
				checkField(t, 0, 0, u, v, w)
			}
		}
	}
	for range 20000 {
		checkField(t, randElem(r), randElem(r), r.Uint64(), r.Uint64(), r.Uint64())
	}
}

// FuzzField cross-checks the F_ℓ arithmetic against math/big.
func FuzzField(f *testing.F) {
	f.Add(uint64(0), uint64(0), uint64(0))
	f.Add(uint64(Modulus-1), uint64(1<<64-1), uint64(1<<64-1))
	f.Fuzz(func(t *testing.T, u, v, w uint64) {
		checkField(t, u%Modulus, v%Modulus, u, v, w)
	})
}

func randomDHF(t *testing.T, r *rand.Rand, th, s int) *DHF {
	rows := make([][]Elem, s)
	for i := range rows {
		rows[i] = make([]Elem, th)
		for j := range rows[i] {
			rows[i][j] = randElem(r)
		}
	}
	d, err := NewDHF(th, s, rows)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDHFEval(t *testing.T) {
	r := rng(2)
	for trial := range 40 {
		th, s := 1+trial%31, 3
		d := randomDHF(t, r, th, s)
		x := randElem(r)
		switch trial % 4 {
		case 0: // every coefficient and x₀ at ℓ−1: the largest products
			for i := range d.coeffs {
				d.coeffs[i] = Modulus - 1
			}
			x = Modulus - 1
		case 1:
			x = 0
		case 2:
			x = 1
		}
		got := d.Eval(x)
		if got[0] != x {
			t.Fatal("r_0 is not x0")
		}
		X := new(big.Int).SetUint64(x)
		for i := range s {
			want := new(big.Int)
			for j := th - 1; j >= 0; j-- {
				want.Mul(want, X).Add(want, new(big.Int).SetUint64(d.coeffs[i*th+j])).Mod(want, ell)
			}
			if got[i+1] != want.Uint64() {
				t.Fatalf("t=%d: p_%d(%d) = %d, want %d", th, i+1, x, got[i+1], want)
			}
		}
	}
}

// columns returns nReal DHF values and nRand random vectors, shuffled, and
// which indices are real.
func columns(t *testing.T, r *rand.Rand, d *DHF, nReal, nRand int) ([][]Elem, []int) {
	cols := make([][]Elem, 0, nReal+nRand)
	for range nReal {
		cols = append(cols, d.Eval(randElem(r)))
	}
	for range nRand {
		c := make([]Elem, d.s+1)
		for i := range c {
			c[i] = randElem(r)
		}
		cols = append(cols, c)
	}
	perm := r.Perm(len(cols))
	shuffled := make([][]Elem, len(cols))
	var real []int
	for i, p := range perm {
		shuffled[i] = cols[p]
		if p < nReal {
			real = append(real, i)
		}
	}
	return shuffled, real
}

// protocol.md §8 invariant 9: t real + s random fails; t+1 real + s random
// finds exactly the real ones; many real too.
func TestDetect(t *testing.T) {
	r := rng(3)
	for _, c := range []struct{ t, s, real, random int }{
		{30, 60, 31, 60}, {30, 60, 31, 0}, {30, 60, 45, 30}, {30, 60, 200, 60},
		{3, 6, 4, 6}, {3, 6, 10, 2}, {1, 1, 2, 1}, {5, 10, 6, 0},
	} {
		d := randomDHF(t, r, c.t, c.s)
		cols, real := columns(t, r, d, c.real, c.random)
		got, err := Detect(cols, c.t, c.s)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if !slices.Equal(got, real) {
			t.Fatalf("%+v: detected %v, real %v", c, got, real)
		}
	}
	for _, c := range []struct{ t, s, real, random int }{
		{30, 60, 30, 60}, {30, 60, 0, 60}, {30, 60, 30, 0}, {3, 6, 3, 6}, {3, 6, 0, 0},
	} {
		d := randomDHF(t, r, c.t, c.s)
		cols, _ := columns(t, r, d, c.real, c.random)
		if got, err := Detect(cols, c.t, c.s); !errors.Is(err, ErrNoKernel) {
			t.Fatalf("%+v: detected %v, %v; want ErrNoKernel", c, got, err)
		}
	}
}

// With more than s random columns the kernel is non-trivial even without
// real ones; Detect answers, and the caller's AEAD check rejects the answer.
func TestDetectExcessRandom(t *testing.T) {
	r := rng(4)
	d := randomDHF(t, r, 3, 6)
	cols, _ := columns(t, r, d, 0, 10)
	got, err := Detect(cols, 3, 6)
	if err != nil || len(got) == 0 {
		t.Fatalf("Detect = %v, %v; want some (junk) columns", got, err)
	}
}

// Weak t-wise independence, checked statistically: with t real columns the
// decoder cannot do better than with none (it always fails), already tested;
// here, each p_i evaluated at t points is a bijection of its coefficients.
func TestDHFBijection(t *testing.T) {
	r := rng(5)
	d := randomDHF(t, r, 4, 2)
	xs := []Elem{randElem(r), randElem(r), randElem(r), randElem(r)}
	// Interpolating p_1 from its 4 values recovers its coefficients.
	ys := make([]Elem, 4)
	for i, x := range xs {
		ys[i] = d.Eval(x)[1]
	}
	// Lagrange at 0 gives the constant term.
	c0 := Elem(0)
	for i := range xs {
		num, den := Elem(1), Elem(1)
		for j := range xs {
			if j != i {
				num = mul(num, xs[j])
				den = mul(den, sub(xs[j], xs[i]))
			}
		}
		c0 = add(c0, mul(ys[i], mul(num, inv(den))))
	}
	if c0 != d.coeffs[0] {
		t.Fatalf("interpolated constant %d, want %d", c0, d.coeffs[0])
	}
}

func TestDetectRejectsBadInput(t *testing.T) {
	if _, err := Detect([][]Elem{{1, 2}}, 2, 2); err == nil {
		t.Error("short column accepted")
	}
	if _, err := Detect([][]Elem{{1, Modulus, 3}}, 2, 2); err == nil {
		t.Error("element ≥ ℓ accepted")
	}
	if _, err := NewDHF(2, 1, [][]Elem{{1, Modulus}}); err == nil {
		t.Error("coefficient ≥ ℓ accepted")
	}
	if _, err := NewDHF(2, 2, [][]Elem{{1, 2}}); err == nil {
		t.Error("wrong row count accepted")
	}
}

func coeffs(seed uint64, n int) [][ZSize]byte {
	out := make([][ZSize]byte, n)
	for i := range out {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], seed*1000+uint64(i))
		h := sha256.Sum256(b[:])
		wide := append(h[:], h[:16]...)
		out[i] = ScalarFromBytes(wide)
	}
	return out
}

func xOf(r *rand.Rand) [XSize]byte {
	var x [XSize]byte
	binary.BigEndian.PutUint64(x[:8], r.Uint64())
	binary.BigEndian.PutUint64(x[8:], r.Uint64())
	x[0] |= 0x80
	return x
}

// protocol.md §8 invariant 10: any t+1 shares with distinct x rebuild a_0; a
// share with z altered rebuilds something else.
func TestShamir(t *testing.T) {
	r := rng(6)
	for _, th := range []int{1, 2, 5, 30} {
		p, err := NewPolynomial(coeffs(uint64(th), th+1))
		if err != nil {
			t.Fatal(err)
		}
		if p.Degree() != th {
			t.Fatal("degree")
		}
		shares := make([]Share, 3*th+2)
		for i := range shares {
			if shares[i], err = p.Share(xOf(r)); err != nil {
				t.Fatal(err)
			}
		}
		for trial := range 4 {
			idx := r.Perm(len(shares))[:th+1]
			sub := make([]Share, 0, th+1)
			for _, i := range idx {
				sub = append(sub, shares[i])
			}
			got, err := Recover(th, sub)
			if err != nil {
				t.Fatal(err)
			}
			if got != p.Secret() {
				t.Fatalf("t=%d trial %d: wrong secret", th, trial)
			}
			sub[trial%len(sub)].Z[31] ^= 1
			if bad, _ := Recover(th, sub); bad == p.Secret() {
				t.Fatalf("t=%d: altered share still gives the secret", th)
			}
		}
		// t shares interpolate a degree-(t-1) polynomial: not the secret.
		if th > 1 {
			if got, _ := Recover(th-1, shares[:th]); got == p.Secret() {
				t.Fatalf("t=%d: t shares gave the secret", th)
			}
		}
	}
}

func TestShamirRejects(t *testing.T) {
	p, _ := NewPolynomial(coeffs(9, 3))
	r := rng(7)
	var x [XSize]byte
	if _, err := p.Share(x); !errors.Is(err, ErrZeroX) {
		t.Errorf("x without top bit: %v", err)
	}
	a, _ := p.Share(xOf(r))
	b, _ := p.Share(xOf(r))
	c, _ := p.Share(xOf(r))
	if _, err := Recover(2, []Share{a, b, a}); err == nil {
		t.Error("duplicate x accepted")
	}
	if _, err := Recover(2, []Share{a, b}); err == nil {
		t.Error("too few shares accepted")
	}
	big := c
	for i := range big.Z {
		big.Z[i] = 0xff
	}
	if _, err := Recover(2, []Share{a, b, big}); !errors.Is(err, ErrScalarRange) {
		t.Errorf("z ≥ q: %v", err)
	}
	if err := CheckShare(big.Z); !errors.Is(err, ErrScalarRange) {
		t.Errorf("CheckShare(z ≥ q) = %v", err)
	}
	var bad [ZSize]byte
	for i := range bad {
		bad[i] = 0xff
	}
	if _, err := NewPolynomial([][ZSize]byte{bad}); err == nil {
		t.Error("coefficient ≥ q accepted")
	}
}

func FuzzDetect(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24}, uint8(2), uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, th, s uint8) {
		tt, ss := int(th%8)+1, int(s%8)+1
		w := (ss + 1) * 8
		var cols [][]Elem
		for len(b) >= w && len(cols) < 40 {
			c := make([]Elem, ss+1)
			for i := range c {
				c[i] = binary.BigEndian.Uint64(b[8*i:]) % Modulus
			}
			cols = append(cols, c)
			b = b[w:]
		}
		got, err := Detect(cols, tt, ss)
		if err == nil {
			for i, k := range got {
				if k < 0 || k >= len(cols) || (i > 0 && got[i-1] >= k) {
					t.Fatalf("bad index list %v", got)
				}
			}
		}
	})
}

func BenchmarkDetect(b *testing.B) {
	for _, c := range []struct {
		name               string
		t, s, real, random int
	}{
		{"31real+60synthetic", 30, 60, 31, 60},
		{"200real+60synthetic", 30, 60, 200, 60},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := rng(8)
			rows := make([][]Elem, c.s)
			for i := range rows {
				rows[i] = make([]Elem, c.t)
				for j := range rows[i] {
					rows[i][j] = randElem(r)
				}
			}
			d, _ := NewDHF(c.t, c.s, rows)
			var cols [][]Elem
			for range c.real {
				cols = append(cols, d.Eval(randElem(r)))
			}
			for range c.random {
				v := make([]Elem, c.s+1)
				for i := range v {
					v[i] = randElem(r)
				}
				cols = append(cols, v)
			}
			for b.Loop() {
				if _, err := Detect(cols, c.t, c.s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDHFEval(b *testing.B) {
	r := rng(9)
	rows := make([][]Elem, 60)
	for i := range rows {
		rows[i] = make([]Elem, 30)
		for j := range rows[i] {
			rows[i][j] = randElem(r)
		}
	}
	d, _ := NewDHF(30, 60, rows)
	out := make([]Elem, 61)
	for b.Loop() {
		d.EvalInto(out, 12345)
	}
}

func BenchmarkShamir(b *testing.B) {
	p, _ := NewPolynomial(coeffs(1, 31))
	r := rng(10)
	shares := make([]Share, 31)
	for i := range shares {
		shares[i], _ = p.Share(xOf(r))
	}
	b.Run("Share", func(b *testing.B) {
		x := xOf(r)
		for b.Loop() {
			p.Share(x)
		}
	})
	b.Run("Recover", func(b *testing.B) {
		for b.Loop() {
			Recover(30, shares)
		}
	})
}

// Real DHF values span exactly t dimensions; a random column raises the rank.
func TestRank(t *testing.T) {
	r := rng(9)
	for _, c := range []struct{ t, s, real int }{{30, 60, 31}, {30, 60, 90}, {3, 6, 3}, {3, 6, 20}} {
		d := randomDHF(t, r, c.t, c.s)
		cols, _ := columns(t, r, d, c.real, 0)
		rk, err := Rank(cols, c.t, c.s)
		if err != nil || rk != min(c.t, c.real) {
			t.Fatalf("%+v: rank %d, %v", c, rk, err)
		}
		withRandom, _ := columns(t, r, d, c.real, 1)
		if rk, _ := Rank(withRandom, c.t, c.s); rk != c.t+1 {
			t.Fatalf("%+v: rank with a random column %d", c, rk)
		}
	}
	if _, err := Rank([][]Elem{{1}}, 3, 6); err == nil {
		t.Fatal("short column accepted")
	}
}

func TestElemFrom128(t *testing.T) {
	ell := new(big.Int).SetUint64(Modulus)
	rng := rand.New(rand.NewPCG(7, 128))
	var cases [][16]byte
	for _, v := range []string{
		"00000000000000000000000000000000", "0000000000000000ffffffffffffffc4", // ℓ
		"0000000000000000ffffffffffffffc5", "0000000000000000ffffffffffffffff",
		"00000000000000010000000000000000", "ffffffffffffffffffffffffffffffff",
		"fffffffffffffffc3ffffffffffffffc", "ffffffffffffffc4ffffffffffffffc4",
		"000000000000003b0000000000000000", "80000000000000000000000000000000",
	} {
		b, _ := new(big.Int).SetString(v, 16)
		var c [16]byte
		b.FillBytes(c[:])
		cases = append(cases, c)
	}
	for range 20000 {
		var c [16]byte
		binary.BigEndian.PutUint64(c[0:], rng.Uint64())
		binary.BigEndian.PutUint64(c[8:], rng.Uint64())
		cases = append(cases, c)
	}
	v := new(big.Int)
	for _, c := range cases {
		want := v.SetBytes(c[:]).Mod(v, ell).Uint64()
		if got := ElemFrom128(&c); got != want {
			t.Fatalf("ElemFrom128(%x) = %d, want %d", c, got, want)
		}
	}
}
