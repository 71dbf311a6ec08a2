package p256

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"filippo.io/nistec"
	"github.com/cloudflare/circl/group"
)

var pBig, _ = new(big.Int).SetString("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", 16)

func feFromBig(v *big.Int) fe {
	var b [32]byte
	new(big.Int).Mod(v, pBig).FillBytes(b[:])
	var z fe
	feSetBytes32(&z, b[:])
	return z
}

func feToBig(x *fe) *big.Int {
	var b [32]byte
	feBytes(b[:], x)
	return new(big.Int).SetBytes(b[:])
}

func randBig(r *rand.Rand) *big.Int {
	var b [32]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	switch r.IntN(8) { // edge values now and then
	case 0:
		return new(big.Int).Sub(pBig, big.NewInt(int64(r.IntN(3)+1)))
	case 1:
		return big.NewInt(int64(r.IntN(3)))
	}
	return new(big.Int).Mod(new(big.Int).SetBytes(b[:]), pBig)
}

// The field against math/big.
func TestFieldMatchesBig(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		a, b := randBig(r), randBig(r)
		x, y := feFromBig(a), feFromBig(b)
		var z fe
		feMul(&z, &x, &y)
		if want := new(big.Int).Mod(new(big.Int).Mul(a, b), pBig); feToBig(&z).Cmp(want) != 0 {
			t.Fatalf("mul %x·%x = %x, want %x", a, b, feToBig(&z), want)
		}
		feAdd(&z, &x, &y)
		if want := new(big.Int).Mod(new(big.Int).Add(a, b), pBig); feToBig(&z).Cmp(want) != 0 {
			t.Fatalf("add: got %x want %x", feToBig(&z), want)
		}
		feSub(&z, &x, &y)
		if want := new(big.Int).Mod(new(big.Int).Sub(a, b), pBig); feToBig(&z).Cmp(want) != 0 {
			t.Fatalf("sub: got %x want %x", feToBig(&z), want)
		}
		if i%50 == 0 {
			feInv(&z, &x)
			want := new(big.Int).ModInverse(a, pBig)
			if want == nil {
				want = new(big.Int)
			}
			if feToBig(&z).Cmp(want) != 0 {
				t.Fatalf("inv: got %x want %x", feToBig(&z), want)
			}
		}
		if got, want := feEqual(&x, &y), a.Cmp(b) == 0; (got == 1) != want {
			t.Fatalf("equal(%x, %x) = %d", a, b, got)
		}
	}
	// 48-byte reduction.
	for i := 0; i < 500; i++ {
		var b [48]byte
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if i == 0 {
			for j := range b {
				b[j] = 0xff
			}
		}
		var z fe
		feSetBytes48(&z, b[:])
		want := new(big.Int).Mod(new(big.Int).SetBytes(b[:]), pBig)
		if feToBig(&z).Cmp(want) != 0 {
			t.Fatalf("48-byte reduce %x: got %x want %x", b, feToBig(&z), want)
		}
	}
}

type rfcVector struct {
	Msg, X, Y, U0, U1 string
}

func unhexT(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 9380 Appendix J.1.1 (P256_XMD:SHA-256_SSWU_RO_).
func TestRFC9380Vectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/good_rfc9380_p256_ro.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		DST     string
		Vectors []rfcVector
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) != 5 {
		t.Fatalf("want 5 vectors, got %d", len(f.Vectors))
	}
	for _, v := range f.Vectors {
		u0, u1, err := HashToField([]byte(v.Msg), []byte(f.DST))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(u0[:], unhexT(t, v.U0)) || !bytes.Equal(u1[:], unhexT(t, v.U1)) {
			t.Errorf("msg %q: hash_to_field mismatch", v.Msg)
		}
		p, err := HashToPoint([]byte(v.Msg), []byte(f.DST))
		if err != nil {
			t.Fatal(err)
		}
		want := append([]byte{4}, append(unhexT(t, v.X), unhexT(t, v.Y)...)...)
		if got := p.Bytes(); !bytes.Equal(got, want) {
			t.Errorf("msg %q: point\n got %x\nwant %x", v.Msg, got, want)
		}
	}
}

// Differential test against circl's math/big hash-to-curve and hash-to-scalar.
func TestHashMatchesCircl(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	dst := []byte("VOUCHSAFE-TEST-with-P256_XMD:SHA-256_SSWU_RO_")
	for i := 0; i < 200; i++ {
		msg := make([]byte, r.IntN(40))
		for j := range msg {
			msg[j] = byte(r.Uint32())
		}
		p, err := HashToPoint(msg, dst)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := group.P256.HashToElement(msg, dst).MarshalBinaryCompress()
		if got := p.BytesCompressed(); !bytes.Equal(got, want) {
			t.Fatalf("msg %x: got %x want %x", msg, got, want)
		}
		s, err := HashToScalar(msg, dst)
		if err != nil {
			t.Fatal(err)
		}
		ws, _ := group.P256.HashToScalar(msg, dst).MarshalBinary()
		if !bytes.Equal(s[:], ws) {
			t.Fatalf("scalar msg %x: got %x want %x", msg, s, ws)
		}
	}
}

func TestExpandMessageLimits(t *testing.T) {
	if _, err := ExpandMessageXMD(nil, make([]byte, 256), 32); err == nil {
		t.Error("256-byte DST accepted")
	}
	if _, err := ExpandMessageXMD(nil, []byte("x"), 8161); err == nil {
		t.Error("8161-byte output accepted")
	}
	if _, err := ExpandMessageXMD(nil, []byte("x"), 0); err == nil {
		t.Error("0-byte output accepted")
	}
}

var sink *nistec.P256Point

func BenchmarkHashToPoint(b *testing.B) {
	dst := []byte("QUUX-V01-CS02-with-P256_XMD:SHA-256_SSWU_RO_")
	msg := make([]byte, 28)
	for i := 0; i < b.N; i++ {
		msg[0] = byte(i)
		p, err := HashToPoint(msg, dst)
		if err != nil {
			b.Fatal(err)
		}
		sink = p
	}
}

func BenchmarkFieldMul(b *testing.B) {
	x := fe{1, 2, 3, 4}
	for i := 0; i < b.N; i++ {
		feMul(&x, &x, &x)
	}
}

func BenchmarkFieldInv(b *testing.B) {
	x := fe{1, 2, 3, 4}
	for i := 0; i < b.N; i++ {
		feInv(&x, &x)
	}
}
