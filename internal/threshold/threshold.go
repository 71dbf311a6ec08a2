// Package threshold is the threshold calculator of protocol.md §6.4: the
// smallest threshold that keeps an account's false-flag probability under a
// target, and the reverse. It is advice for choosing psi.Params, not part of
// the protocol.
package threshold

import (
	"errors"
	"fmt"
	"math"
)

// False-positive scenes are
// Binomial(⌊N/k⌋, f), each producing k matches (k = 1: independent images);
// an account is falsely flagged when it reaches T = t+1 matches, i.e. at
// least ⌈T/k⌉ scenes.

// Query describes a library and a false-positive model.
type Query struct {
	FPR     float64 // per-image false-positive rate f, in (0, 1)
	Library float64 // library size N (an upper bound), ≥ 1
	Cluster int     // near-duplicate cluster size k ≥ 1 (0 means 1)
}

func (q Query) check() (n float64, k int, err error) {
	if !(q.FPR > 0 && q.FPR < 1) {
		return 0, 0, fmt.Errorf("threshold: false-positive rate %v out of range (0, 1)", q.FPR)
	}
	if !(q.Library >= 1 && q.Library <= 1e15) {
		return 0, 0, fmt.Errorf("threshold: library size %v out of range [1, 1e15]", q.Library)
	}
	k = q.Cluster
	if k == 0 {
		k = 1
	}
	if k < 1 {
		return 0, 0, fmt.Errorf("threshold: cluster size %d < 1", k)
	}
	return math.Floor(q.Library / float64(k)), k, nil
}

// FalseFlagProbability is P[an account of N images reaches T matches]:
// P[Binomial(⌊N/k⌋, f) ≥ ⌈T/k⌉], summed in log space.
func FalseFlagProbability(q Query, required int) (float64, error) {
	n, k, err := q.check()
	if err != nil {
		return 0, err
	}
	if required < 1 {
		return 0, fmt.Errorf("threshold: required matches %d < 1", required)
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
var ErrNoThreshold = errors.New("threshold: no threshold meets the target")

// MinThreshold returns the smallest required match count T = t+1 with
// P[false flag] ≤ target (report t = T−1 as the protocol threshold).
func MinThreshold(q Query, target float64) (int, error) {
	n, k, err := q.check()
	if err != nil {
		return 0, err
	}
	if !(target > 0 && target < 1) {
		return 0, fmt.Errorf("threshold: target probability %v out of range (0, 1)", target)
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

// LibraryQuery asks MaxLibrary for the largest library size that a
// required match count keeps under a target false-flag probability.
type LibraryQuery struct {
	FPR      float64 // per-image false-positive rate f, in (0, 1)
	Cluster  int     // near-duplicate cluster size k ≥ 1 (0 means 1)
	Required int     // required match count T = t+1
	Target   float64 // P[false flag] bound, in (0, 1)
}

// MaxLibrary is the reverse of MinThreshold: the largest library size N for
// which an account with q.Required matches stays at P[false flag] ≤ q.Target.
func MaxLibrary(lq LibraryQuery) (float64, error) {
	fpr, cluster, required, target := lq.FPR, lq.Cluster, lq.Required, lq.Target
	q := Query{FPR: fpr, Library: 1, Cluster: cluster}
	if _, _, err := q.check(); err != nil {
		return 0, err
	}
	if !(target > 0 && target < 1) {
		return 0, fmt.Errorf("threshold: target probability %v out of range (0, 1)", target)
	}
	ok := func(n float64) bool {
		p, _ := FalseFlagProbability(Query{FPR: fpr, Library: n, Cluster: cluster}, required)
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
