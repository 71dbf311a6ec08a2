package tss

import (
	"flag"
	"fmt"
	"slices"
	"testing"
)

var decodeTrials = flag.Int("decode-trials", 6, "seeded trials per case in TestDecodeCorruptShares (the README figures use 1000)")

// corruptShares returns m shares of a random degree-t polynomial with k of
// them (chosen at random) given a random wrong value, and the corrupted
// indices.
func corruptShares(seed uint64, t, m, k int) (*Polynomial, []Share, []int) {
	r := rng(seed)
	p, _ := NewPolynomial(coeffs(seed, t+1))
	shares := make([]Share, m)
	for i := range shares {
		shares[i], _ = p.Share(xOf(r))
	}
	bad := r.Perm(m)[:k]
	slices.Sort(bad)
	for _, i := range bad {
		for {
			var z [ZSize]byte
			for j := range z {
				z[j] = byte(r.Uint32())
			}
			z[0] &= 0x7f // below q
			if z != shares[i].Z {
				shares[i].Z = z
				break
			}
		}
	}
	return p, shares, bad
}

// Decode recovers the secret and names exactly the wrong shares whenever
// there are at most ⌊(m−t−1)/2⌋ of them, and otherwise fails (it never
// returns a secret it did not decode). The figures of the README come from
// go test ./tss -run DecodeCorruptShares -v -decode-trials 1000.
func TestDecodeCorruptShares(t *testing.T) {
	const th = 30
	for _, m := range []int{36, 41, 50, 100} {
		for _, k := range []int{0, 1, 2, 5} {
			t.Run(fmt.Sprintf("m=%d/corrupt=%d", m, k), func(t *testing.T) {
				t.Parallel()
				ok, wrong := 0, 0
				for trial := 0; trial < *decodeTrials; trial++ {
					seed := uint64(m*1_000_000 + k*10_000 + trial)
					p, shares, bad := corruptShares(seed, th, m, k)
					secret, got, err := Decode(th, shares)
					switch {
					case err == nil && secret == p.Secret() && slices.Equal(got, bad):
						ok++
					case err == nil:
						wrong++
					}
				}
				correctable := k <= MaxCorrectable(th, m)
				t.Logf("t=%d m=%d corrupt=%d: decoded %d/%d, wrong %d (correctable: %v)", th, m, k, ok, *decodeTrials, wrong, correctable)
				if correctable && ok != *decodeTrials {
					t.Errorf("m=%d, %d corrupt: decoded %d of %d", m, k, ok, *decodeTrials)
				}
				if wrong != 0 {
					t.Errorf("m=%d, %d corrupt: %d wrong secrets", m, k, wrong)
				}
			})
		}
	}
}

// Shares that repeat an x-coordinate: equal ones count once, clashing ones
// are left out of the decoding and reported if off the polynomial.
func TestDecodeDuplicateX(t *testing.T) {
	const th = 4
	p, shares, _ := corruptShares(7, th, 9, 0)
	dupe := shares[2]
	clash := shares[5]
	clash.Z[31] ^= 1
	in := append(slices.Clone(shares), dupe, clash)
	secret, bad, err := Decode(th, in)
	if err != nil || secret != p.Secret() || !slices.Equal(bad, []int{10}) {
		t.Fatalf("secret ok=%v bad=%v err=%v", secret == p.Secret(), bad, err)
	}
	if _, _, err := Decode(th, shares[:th]); err == nil {
		t.Fatal("decoded t shares")
	}
	if _, _, err := Decode(th, []Share{{}}); err == nil {
		t.Fatal("accepted a zero x")
	}
	// Exactly t+1 shares: plain interpolation, nothing to correct.
	secret, bad, err = Decode(th, shares[:th+1])
	if err != nil || secret != p.Secret() || len(bad) != 0 {
		t.Fatalf("t+1 shares: %v %v", bad, err)
	}
	if MaxCorrectable(30, 36) != 2 || MaxCorrectable(30, 31) != 0 || MaxCorrectable(30, 10) != 0 {
		t.Fatal("MaxCorrectable")
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range [][2]int{{36, 0}, {36, 2}, {100, 0}, {100, 5}} {
		_, shares, _ := corruptShares(1, 30, c[0], c[1])
		b.Run(fmt.Sprintf("m=%d/corrupt=%d", c[0], c[1]), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := Decode(30, shares); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzDecode: Decode never panics on arbitrary shares; when it returns a
// secret, enough shares agree with it, and the bad indices are sorted and
// in range.
func FuzzDecode(f *testing.F) {
	_, shares, _ := corruptShares(3, 3, 9, 2)
	var seed []byte
	for _, s := range shares {
		seed = append(append(seed, s.X[:]...), s.Z[:]...)
	}
	f.Add(seed, uint8(3))
	f.Add(seed[:48*4], uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, th uint8) {
		tt := int(th % 8)
		var in []Share
		for len(b) >= XSize+ZSize && len(in) < 40 {
			var s Share
			copy(s.X[:], b)
			copy(s.Z[:], b[XSize:])
			s.X[0] |= 0x80
			s.Z[0] &= 0x7f
			in = append(in, s)
			b = b[XSize+ZSize:]
		}
		_, bad, err := Decode(tt, in)
		if err != nil {
			return
		}
		if len(in)-len(bad) < tt+1 || !slices.IsSorted(bad) {
			t.Fatalf("%d shares, bad %v", len(in), bad)
		}
		for _, i := range bad {
			if i < 0 || i >= len(in) {
				t.Fatalf("bad index %d", i)
			}
		}
	})
}
