//go:build unix

package cputime

import (
	"testing"
	"time"
)

// Spinning shows up as CPU time; sleeping does not.
func TestProcess(t *testing.T) {
	t0 := Process()
	if t0 <= 0 {
		t.Fatalf("Process() = %v at start", t0)
	}
	// Spin until 20 ms of CPU are counted; the deadline is only for a clock
	// that never moves, so a loaded machine cannot fail this.
	x := 1
	for deadline := time.Now().Add(20 * time.Second); Process()-t0 < 20*time.Millisecond; {
		for range 100000 {
			x = x*31 + 7
		}
		if time.Now().After(deadline) {
			t.Fatalf("20 s of spinning counted as %v of CPU (x=%d)", Process()-t0, x)
		}
	}
	t1 := Process()
	time.Sleep(50 * time.Millisecond)
	if slept := Process() - t1; slept > 40*time.Millisecond {
		t.Errorf("50 ms of sleep counted as %v of CPU", slept)
	}
}
