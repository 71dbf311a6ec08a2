//go:build unix

package cputime

import (
	"testing"
	"time"
)

// Spinning for a while shows up as CPU time; sleeping does not.
func TestProcess(t *testing.T) {
	t0 := Process()
	if t0 <= 0 {
		t.Fatalf("Process() = %v at start", t0)
	}
	x := 1
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		x = x*31 + 7
	}
	spun := Process() - t0
	if spun < 10*time.Millisecond {
		t.Errorf("50 ms of spinning counted as %v of CPU (x=%d)", spun, x)
	}
	t1 := Process()
	time.Sleep(50 * time.Millisecond)
	if slept := Process() - t1; slept > 40*time.Millisecond {
		t.Errorf("50 ms of sleep counted as %v of CPU", slept)
	}
}
