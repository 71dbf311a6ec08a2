package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// EmbeddingSize is the length of the model output that the seed matrix projects.
const EmbeddingSize = 128

// seedHeaderSize is the header of a NeuralHash seed file, skipped as the reference does.
const seedHeaderSize = 128

// SeedFileSize is the exact size of a seed file: the header, then 96×128
// little-endian float32 values, row-major.
const SeedFileSize = seedHeaderSize + HashBits*EmbeddingSize*4

// Projection is the 96×128 hyperplane matrix of a seed file. Bit i of a hash is
// set where row i · embedding ≥ 0.
type Projection struct {
	rows [HashBits][EmbeddingSize]float32
}

// ErrSeedSize is returned for a seed file of the wrong length.
var ErrSeedSize = errors.New("seed file has the wrong size")

// ParseSeed reads a seed file in the format of neuralhash_128x96_seed1.dat.
func ParseSeed(b []byte) (*Projection, error) {
	if len(b) != SeedFileSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d (a %d-byte header and %d×%d float32)", ErrSeedSize, len(b), SeedFileSize, seedHeaderSize, HashBits, EmbeddingSize)
	}
	p := new(Projection)
	b = b[seedHeaderSize:]
	for i := range p.rows {
		zero := true
		for j := range p.rows[i] {
			v := math.Float32frombits(binary.LittleEndian.Uint32(b[4*(i*EmbeddingSize+j):]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("seed file: row %d column %d is %v", i, j, v)
			}
			zero = zero && v == 0
			p.rows[i][j] = v
		}
		if zero {
			return nil, fmt.Errorf("seed file: row %d is all zeros", i)
		}
	}
	return p, nil
}

// Hash projects one embedding of EmbeddingSize floats to a hash. The dot
// products accumulate in float64, so the sign is exact except where a product
// is within rounding of zero (where float32 references disagree among
// themselves too).
func (p *Projection) Hash(emb []float32) Hash {
	var h Hash
	_ = emb[EmbeddingSize-1]
	for i := range p.rows {
		r := &p.rows[i]
		var s0, s1, s2, s3 float64
		for j := 0; j < EmbeddingSize; j += 4 {
			s0 += float64(r[j]) * float64(emb[j])
			s1 += float64(r[j+1]) * float64(emb[j+1])
			s2 += float64(r[j+2]) * float64(emb[j+2])
			s3 += float64(r[j+3]) * float64(emb[j+3])
		}
		if (s0+s1)+(s2+s3) >= 0 {
			h[i/8] |= 0x80 >> (i % 8)
		}
	}
	return h
}
