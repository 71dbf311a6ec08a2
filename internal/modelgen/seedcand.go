package modelgen

import "math"

// seedCandidate is one seed-matrix design for the default model.
type seedCandidate struct {
	name string
	m    []float32
}

// radius returns, for each embedding coefficient, its spatial frequency
// √(u²+v²) in DCT index units.
func radius() []float64 {
	r := make([]float64, Dim)
	for i, k := range zigzag() {
		u, v := float64(k/grid), float64(k%grid)
		r[i] = math.Sqrt(u*u + v*v)
	}
	return r
}

// seedCandidates lists the designs the evaluation compares.
func seedCandidates() []seedCandidate {
	sel := make([]float32, Bits*Dim)
	cen := make([]float32, Bits*Dim)
	for i := range Bits {
		sel[i*Dim+i] = 1
		for j := range Dim {
			cen[i*Dim+j] = -1.0 / Dim
		}
		cen[i*Dim+i] += 1
	}
	r := radius()
	weighted := func(p float64) []float32 {
		m := gaussianSeed(1)
		for i := range Bits {
			for j := range Dim {
				m[i*Dim+j] = float32(float64(m[i*Dim+j]) * math.Pow(r[j], p))
			}
		}
		return m
	}
	return []seedCandidate{
		{"sign (pHash-like)", sel},
		{"sign, mean-centred", cen},
		{"simhash raw", gaussianSeed(1)},
		{"simhash × r^0.5", weighted(0.5)},
		{"simhash × r", weighted(1)},
		{"simhash × r^1.5", weighted(1.5)},
		{"simhash × r^2", weighted(2)},
	}
}

// defaultSeed is the default model's seed matrix, "sign, mean-centred": bit i
// is set where AC coefficient i is at least the mean of all 128 kept
// coefficients (pHash's above-the-mean rule, made linear), for the first 96
// coefficients in zigzag order. The evaluation on real photos (see
// TestSeedDesignEvaluation) chose it: it moves as few bits as the best
// alternative under re-encoding and gives the tightest spread of distances
// between distinct photos, close to that of independent fair bits.
func defaultSeed() []float32 { return seedCandidates()[1].m }
