package modelgen

import (
	"encoding/binary"
	"math"
)

// SeedHeaderSize is the length of a seed file's header, as in NeuralHash's
// neuralhash_128x96_seed1.dat; readers skip it.
const SeedHeaderSize = 128

// seedMagic starts the header of seed files written here. The rest of the
// header is: the model name (NUL-padded to 32 bytes) at offset 16, then the row
// and column counts as little-endian uint32 at offsets 48 and 52, then zeros.
const seedMagic = "vouchsafe seed 1"

// SeedFile encodes a Bits×Dim hyperplane matrix (row-major) in NeuralHash's
// seed format: a 128-byte header, then little-endian float32 values.
func SeedFile(name string, m []float32) []byte {
	b := make([]byte, SeedHeaderSize, SeedHeaderSize+4*len(m))
	copy(b, seedMagic)
	copy(b[16:48], name)
	binary.LittleEndian.PutUint32(b[48:], Bits)
	binary.LittleEndian.PutUint32(b[52:], Dim)
	for _, v := range m {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// Hash applies a Bits×Dim seed matrix to an embedding: bit i (row 0 most
// significant) is set where row i · embedding ≥ 0. The result is 12 bytes.
func Hash(seed []float32, emb []float32) []byte {
	h := make([]byte, Bits/8)
	for i := range Bits {
		s := 0.0
		for j := range Dim {
			s += float64(seed[i*Dim+j]) * float64(emb[j])
		}
		if s >= 0 {
			h[i/8] |= 0x80 >> (i % 8)
		}
	}
	return h
}

// gaussianSeed returns a Bits×Dim matrix of seeded approximately-Gaussian
// hyperplanes (SimHash).
func gaussianSeed(seed uint64) []float32 {
	r := newRNG(seed)
	m := make([]float32, Bits*Dim)
	for i := range m {
		m[i] = float32(r.normal())
	}
	return m
}
