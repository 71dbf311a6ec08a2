package modelgen

import "math"

// rng is SplitMix64: a tiny generator whose output is fixed by its seed on
// every platform, so generated weights never depend on the Go version or CPU.
type rng struct{ s uint64 }

func newRNG(seed uint64) *rng { return &rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// uniform returns a float64 in [0, 1) with 53 random bits (exact arithmetic).
func (r *rng) uniform() float64 { return float64(r.next()>>11) * 0x1p-53 }

// symmetric returns a float64 uniform in [-1, 1) (exact arithmetic).
func (r *rng) symmetric() float64 { return 2*r.uniform() - 1 }

// normal returns an approximately standard normal value as the Irwin–Hall sum
// of 12 uniforms minus 6. Only exact-by-construction multiplications and
// additions are used, so the result is bit-identical on every platform (no
// transcendental functions, nothing an FMA could change).
func (r *rng) normal() float64 {
	s := 0.0
	for range 12 {
		s += r.uniform()
	}
	return s - 6
}

// heUniform fills n weights uniform in ±sqrt(6/fanIn): variance 2/fanIn (He
// initialisation). The product is rounded explicitly to forbid fusion.
func (r *rng) heUniform(n, fanIn int) []float32 {
	a := math.Sqrt(6 / float64(fanIn))
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(float64(r.symmetric() * a))
	}
	return w
}

// scaled fills n values uniform in ±a.
func (r *rng) scaled(n int, a float64) []float32 {
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(float64(r.symmetric() * a))
	}
	return w
}
