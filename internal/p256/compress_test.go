package p256

import (
	"crypto/sha256"
	"errors"
	"runtime"
	"testing"

	"filippo.io/nistec"
)

func TestCompressBatch(t *testing.T) {
	if runtime.GOARCH == "amd64" && !fastCompressOK() && !purego {
		t.Error("CompressBatch's fast path is off: nistec's P256Point layout changed?")
	}
	g := nistec.NewP256Point().SetGenerator()
	for n := 0; n <= 2*maxBatch+3; n++ {
		ps := make([]*nistec.P256Point, n)
		for i := range ps {
			k := sha256.Sum256([]byte{byte(n), byte(i)})
			p, err := nistec.NewP256Point().ScalarBaseMult(k[:])
			if err != nil {
				t.Fatal(err)
			}
			if i%3 == 1 {
				p.Add(p, g) // Z ≠ 1 from another formula
			}
			if i%4 == 2 {
				p, _ = nistec.NewP256Point().SetBytes(p.BytesCompressed()) // Z = 1
			}
			ps[i] = p
		}
		out := make([][33]byte, n)
		if err := CompressBatch(out, ps); err != nil {
			t.Fatal(err)
		}
		for i, p := range ps {
			if want := p.BytesCompressed(); string(out[i][:]) != string(want) {
				t.Fatalf("n=%d, point %d: %x, want %x", n, i, out[i], want)
			}
		}
		if n > 0 {
			ps[n/2] = nistec.NewP256Point()
			if err := CompressBatch(out, ps); !errors.Is(err, ErrInfinity) {
				t.Fatalf("n=%d with the identity: err = %v", n, err)
			}
			if err := compressEach(out, ps); !errors.Is(err, ErrInfinity) {
				t.Fatalf("n=%d with the identity, per point: err = %v", n, err)
			}
		}
	}
}

func BenchmarkCompressBatch2(b *testing.B) {
	k := sha256.Sum256([]byte("bench"))
	p, _ := nistec.NewP256Point().ScalarBaseMult(k[:])
	q, _ := nistec.NewP256Point().ScalarMult(p, k[:])
	ps := []*nistec.P256Point{p, q}
	var out [2][33]byte
	b.Run("batch", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			CompressBatch(out[:], ps)
		}
	})
	b.Run("each", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			compressEach(out[:], ps)
		}
	})
}
