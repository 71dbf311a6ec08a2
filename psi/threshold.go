package psi

import (
	"errors"
	"fmt"
	"math"
)

// The threshold calculator of protocol.md §6.4. False-positive scenes are
// Binomial(⌊N/k⌋, f), each producing k matches (k = 1: independent images);
// an account is falsely flagged when it reaches T = t+1 matches, i.e. at
// least ⌈T/k⌉ scenes.

// ThresholdQuery describes a library and a false-positive model.
type ThresholdQuery struct {
	FPR     float64 // per-image false-positive rate f, in (0, 1)
	Library float64 // library size N (an upper bound), ≥ 1
	Cluster int     // near-duplicate cluster size k ≥ 1 (0 means 1)
}

func (q ThresholdQuery) check() (n float64, k int, err error) {
	if !(q.FPR > 0 && q.FPR < 1) {
		return 0, 0, fmt.Errorf("psi: false-positive rate %v out of range (0, 1)", q.FPR)
	}
	if !(q.Library >= 1 && q.Library <= 1e15) {
		return 0, 0, fmt.Errorf("psi: library size %v out of range [1, 1e15]", q.Library)
	}
	k = q.Cluster
	if k == 0 {
		k = 1
	}
	if k < 1 {
		return 0, 0, fmt.Errorf("psi: cluster size %d < 1", k)
	}
	return math.Floor(q.Library / float64(k)), k, nil
}

// FalseFlagProbability is P[an account of N images reaches T matches]:
// P[Binomial(⌊N/k⌋, f) ≥ ⌈T/k⌉], summed in log space.
func FalseFlagProbability(q ThresholdQuery, required int) (float64, error) {
	n, k, err := q.check()
	if err != nil {
		return 0, err
	}
	if required < 1 {
		return 0, fmt.Errorf("psi: required matches %d < 1", required)
	}
	c := (required + k - 1) / k
	return binomTail(n, q.FPR, float64(c)), nil
}

// binomTail is P[Bin(n, f) ≥ c] (protocol.md §6.4). Above the mode it sums
// pmf terms upward from c until they fall below 1e-60 of the first; at or
// below the mode it returns 1 − P[X < c], summing downward from c−1 (the
// tail is then at least about one half, so the cancellation is harmless).
func binomTail(n, f, c float64) float64 {
	if c <= 0 {
		return 1
	}
	if c > n {
		return 0
	}
	lg := func(x float64) float64 { v, _ := math.Lgamma(x); return v }
	logPMF := func(j float64) float64 {
		return lg(n+1) - lg(j+1) - lg(n-j+1) + j*math.Log(f) + (n-j)*math.Log1p(-f)
	}
	ratio := f / (1 - f)
	if c > math.Floor((n+1)*f) {
		first := math.Exp(logPMF(c))
		if first == 0 {
			return 0 // below 1e-308: smaller than any target we accept
		}
		sum, term := first, first
		for j := c; j < n; j++ {
			term *= (n - j) / (j + 1) * ratio
			sum += term
			if term < first*1e-60 || term == 0 {
				break
			}
		}
		return math.Min(sum, 1)
	}
	first := math.Exp(logPMF(c - 1))
	sum, term := first, first
	for j := c - 1; j > 0; j-- {
		term *= j / (n - j + 1) / ratio
		sum += term
		if term < first*1e-60 || term == 0 {
			break
		}
	}
	return math.Max(0, 1-sum)
}

// ErrNoThreshold is returned when no threshold up to the library size meets
// the target.
var ErrNoThreshold = errors.New("psi: no threshold meets the target")

// MinThreshold returns the smallest required match count T = t+1 with
// P[false flag] ≤ target (report t = T−1 as the protocol threshold).
func MinThreshold(q ThresholdQuery, target float64) (int, error) {
	n, k, err := q.check()
	if err != nil {
		return 0, err
	}
	if !(target > 0 && target < 1) {
		return 0, fmt.Errorf("psi: target probability %v out of range (0, 1)", target)
	}
	// The scene count c needed is monotone: binary search it.
	lo, hi := 1.0, n+1 // P(≥ n+1) = 0 ≤ target
	if binomTail(n, q.FPR, lo) <= target {
		hi = lo
	}
	for hi-lo > 0 {
		mid := math.Floor((lo + hi) / 2)
		if binomTail(n, q.FPR, mid) <= target {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	c := hi
	T := float64(k)*(c-1) + 1
	if T > math.MaxInt32 {
		return 0, ErrNoThreshold
	}
	return int(T), nil
}

// MaxLibrary is the reverse: the largest library size N for which an account
// with the given required match count T stays at P[false flag] ≤ target.
func MaxLibrary(fpr float64, cluster, required int, target float64) (float64, error) {
	q := ThresholdQuery{FPR: fpr, Library: 1, Cluster: cluster}
	if _, _, err := q.check(); err != nil {
		return 0, err
	}
	if !(target > 0 && target < 1) {
		return 0, fmt.Errorf("psi: target probability %v out of range (0, 1)", target)
	}
	ok := func(n float64) bool {
		p, _ := FalseFlagProbability(ThresholdQuery{FPR: fpr, Library: n, Cluster: cluster}, required)
		return p <= target
	}
	if !ok(1) {
		return 0, ErrNoThreshold
	}
	lo, hi := 1.0, 2.0
	for ok(hi) {
		lo, hi = hi, hi*2
		if hi > 1e15 {
			return 1e15, nil
		}
	}
	for hi-lo > 1 {
		mid := math.Floor((lo + hi) / 2)
		if ok(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// SyntheticBlur quantifies how much synthetic vouchers hide (protocol.md
// §6.5) for an account that uploaded m vouchers.
type SyntheticBlur struct {
	Rate         float64 // p
	Mean, StdDev float64 // of the synthetic count before the cap binds: m·p ± √(m·p(1−p))
	CapLo, CapHi int     // the secret cap's range
	CapStdDev    float64 // (c_hi − c_lo)/√12, once the cap binds
}

// Blur returns the §6.5 figures for parameters p, rate and m vouchers.
func Blur(p Params, rate float64, m float64) SyntheticBlur {
	lo, hi := capRange(p)
	return SyntheticBlur{
		Rate: rate, Mean: m * rate, StdDev: math.Sqrt(m * rate * (1 - rate)),
		CapLo: lo, CapHi: hi, CapStdDev: float64(hi-lo) / math.Sqrt(12),
	}
}
