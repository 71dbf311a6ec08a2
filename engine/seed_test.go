package engine

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func seedBytes(rows [][]float32) []byte {
	b := make([]byte, SeedFileSize)
	for i, r := range rows {
		for j, v := range r {
			binary.LittleEndian.PutUint32(b[seedHeaderSize+4*(i*EmbeddingSize+j):], math.Float32bits(v))
		}
	}
	return b
}

func randomRows(seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	rows := make([][]float32, HashBits)
	for i := range rows {
		rows[i] = make([]float32, EmbeddingSize)
		for j := range rows[i] {
			rows[i][j] = float32(rng.NormFloat64())
		}
	}
	return rows
}

// The projection follows the reference: bit i is row i · emb >= 0, row 0 is the
// most significant bit of the first hex digit.
func TestProjectionBitOrder(t *testing.T) {
	rows := make([][]float32, HashBits)
	for i := range rows {
		rows[i] = make([]float32, EmbeddingSize)
		rows[i][i] = -1 // bit i set iff emb[i] <= 0
	}
	p, err := ParseSeed(seedBytes(rows))
	if err != nil {
		t.Fatal(err)
	}
	emb := make([]float32, EmbeddingSize)
	for i := range emb {
		emb[i] = 1
	}
	emb[0] = -1  // bit 0: MSB of byte 0
	emb[95] = -1 // bit 95: LSB of byte 11
	emb[9] = 0   // exactly zero counts as >= 0
	if got, want := p.Hash(emb).String(), "804000000000000000000001"; got != want {
		t.Fatalf("hash = %s, want %s", got, want)
	}
}

// Against a direct float64 evaluation of sign(M·e) on random data.
func TestProjectionMatchesDefinition(t *testing.T) {
	rows := randomRows(7)
	p, err := ParseSeed(seedBytes(rows))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	emb := make([]float32, EmbeddingSize)
	for range 200 {
		for j := range emb {
			emb[j] = float32(rng.NormFloat64())
		}
		var want Hash
		for i, r := range rows {
			s := 0.0
			for j := range r {
				s += float64(r[j]) * float64(emb[j])
			}
			if s >= 0 {
				want[i/8] |= 0x80 >> (i % 8)
			}
		}
		if got := p.Hash(emb); got != want {
			t.Fatalf("hash = %s, want %s", got, want)
		}
	}
}

func TestParseSeedRejects(t *testing.T) {
	good := seedBytes(randomRows(1))
	nan := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(nan[seedHeaderSize+40:], math.Float32bits(float32(math.NaN())))
	zeroRow := append([]byte(nil), good...)
	clear(zeroRow[seedHeaderSize+5*EmbeddingSize*4 : seedHeaderSize+6*EmbeddingSize*4])
	for name, b := range map[string][]byte{
		"fail_empty":     nil,
		"fail_truncated": good[:len(good)-1],
		"fail_extended":  append(append([]byte(nil), good...), 0),
		"fail_nan":       nan,
		"fail_zero_row":  zeroRow,
	} {
		if _, err := ParseSeed(b); err == nil {
			t.Errorf("%s: accepted", name)
		} else if name[5:] == "truncated" && !errors.Is(err, ErrSeedSize) {
			t.Errorf("%s: error %v is not ErrSeedSize", name, err)
		}
	}
}

func TestHashText(t *testing.T) {
	h, err := ParseHash("0123456789ABCDEF01234567")
	if err != nil {
		t.Fatal(err)
	}
	if h.String() != "0123456789abcdef01234567" {
		t.Fatal(h)
	}
	var g Hash
	if err := g.UnmarshalText([]byte(h.String())); err != nil || g != h {
		t.Fatal(g, err)
	}
	if Distance(h, g) != 0 {
		t.Fatal("distance to self")
	}
	g[11] ^= 0x81
	if Distance(h, g) != 2 {
		t.Fatal("distance")
	}
	for _, s := range []string{"", "0123", "0123456789abcdef0123456z", "0123456789abcdef012345670"} {
		if _, err := ParseHash(s); err == nil {
			t.Errorf("ParseHash(%q) accepted", s)
		}
	}
}

func FuzzParseSeed(f *testing.F) {
	f.Add(seedBytes(randomRows(3)))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseSeed(b)
		if err == nil {
			p.Hash(make([]float32, EmbeddingSize))
		}
	})
}

func FuzzParseHash(f *testing.F) {
	f.Add("0123456789abcdef01234567")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHash(s)
		if err == nil {
			if h2, err := ParseHash(h.String()); err != nil || h2 != h {
				t.Fatal("round trip")
			}
		}
	})
}
