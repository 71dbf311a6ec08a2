package p256

import (
	"testing"

	"filippo.io/nistec"
)

func BenchmarkNistecSetBytesCompressed(b *testing.B) {
	g := nistec.NewP256Point().SetGenerator()
	enc := g.BytesCompressed()
	for i := 0; i < b.N; i++ {
		if _, err := nistec.NewP256Point().SetBytes(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNistecScalarMult(b *testing.B) {
	g := nistec.NewP256Point().SetGenerator()
	k := make([]byte, 32)
	k[3] = 7
	for i := 0; i < b.N; i++ {
		if _, err := g.ScalarMult(g, k); err != nil {
			b.Fatal(err)
		}
	}
}
