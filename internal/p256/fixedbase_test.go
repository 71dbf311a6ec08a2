package p256

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"filippo.io/nistec"
)

func TestFixedBase(t *testing.T) {
	var k [32]byte
	k[31] = 5
	p, _ := nistec.NewP256Point().ScalarBaseMult(k[:])
	f := NewFixedBase(p)
	for i := range 200 {
		s := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		switch i {
		case 0:
			s = [32]byte{}
		case 1:
			for j := range s {
				s[j] = 0xff
			}
		case 2:
			s = [32]byte{31: 1}
		}
		want, err := nistec.NewP256Point().ScalarMult(p, s[:])
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.ScalarMult(nistec.NewP256Point(), s[:])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("scalar %x: FixedBase and ScalarMult differ", s)
		}
	}
}

func BenchmarkFixedBase(b *testing.B) {
	var k [32]byte
	k[31] = 5
	p, _ := nistec.NewP256Point().ScalarBaseMult(k[:])
	f := NewFixedBase(p)
	s := sha256.Sum256([]byte("x"))
	q := nistec.NewP256Point()
	b.Run("fixed", func(b *testing.B) {
		for b.Loop() {
			f.ScalarMult(q, s[:])
		}
	})
	b.Run("nistec", func(b *testing.B) {
		for b.Loop() {
			q.ScalarMult(p, s[:])
		}
	})
	b.Run("base", func(b *testing.B) {
		for b.Loop() {
			q.ScalarBaseMult(s[:])
		}
	})
}
