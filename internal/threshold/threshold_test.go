package threshold

import (
	"math"
	"testing"
)

// protocol.md §6.4's table (f, N → T at P* = 1e-12) and Apple's figures.
func TestThreshold(t *testing.T) {
	table := map[float64][5]int{
		1e-6: {5, 8, 15, 40, 179},
		3e-8: {4, 5, 6, 11, 23},
		1e-5: {8, 15, 40, 179, 1231},
	}
	for f, row := range table {
		for i, want := range row {
			n := math.Pow(10, float64(4+i))
			got, err := MinThreshold(Query{FPR: f, Library: n}, 1e-12)
			if err != nil || got != want {
				t.Errorf("f=%g N=%g: T=%d (%v), want %d", f, n, got, err, want)
			}
		}
	}
	for _, c := range []struct {
		n    float64
		k, T int
	}{{5e6, 1, 28}, {5.5e6, 1, 30}, {6e6, 1, 31}, {1e6, 3, 31}, {1e6, 5, 46}, {1e6, 10, 71}} {
		got, err := MinThreshold(Query{FPR: 1e-6, Library: c.n, Cluster: c.k}, 1e-12)
		if err != nil || got != c.T {
			t.Errorf("N=%g k=%d: T=%d (%v), want %d", c.n, c.k, got, err, c.T)
		}
	}
	// Reverse: the largest N for T = 30 lies between 5.5 M and 6 M.
	n, err := MaxLibrary(LibraryQuery{FPR: 1e-6, Cluster: 1, Required: 30, Target: 1e-12})
	if err != nil || n < 5.5e6 || n >= 6e6 {
		t.Fatalf("MaxLibrary = %g (%v)", n, err)
	}
	if p, _ := FalseFlagProbability(Query{FPR: 1e-6, Library: n}, 30); p > 1e-12 {
		t.Fatalf("P at MaxLibrary = %g", p)
	}
	if p, _ := FalseFlagProbability(Query{FPR: 1e-6, Library: n + 1}, 30); p <= 1e-12 {
		t.Fatalf("P above MaxLibrary = %g", p)
	}
	for _, q := range []Query{{FPR: 0, Library: 10}, {FPR: 1, Library: 10}, {FPR: 1e-6, Library: 0}, {FPR: 1e-6, Library: 10, Cluster: -1}} {
		if _, err := MinThreshold(q, 1e-12); err == nil {
			t.Errorf("%+v accepted", q)
		}
	}
}
