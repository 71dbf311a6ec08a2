//go:build cgo

package ort

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestCPUTuningValidate(t *testing.T) {
	for _, c := range []struct {
		t    CPUTuning
		ok   bool
		name string
	}{
		{CPUTuning{}, true, "default"},
		{CPUTuning{Spin: SpinRun}, true, "default"},
		{CPUTuning{Spin: SpinOn, NoArena: true}, true, "spin=on+noarena"},
		{CPUTuning{GraphOpt: "basic", InterOpThreads: 2, NoMemPattern: true, Affinity: true}, true, "inter=2+opt=basic+nomempattern+affinity"},
		{CPUTuning{ORTDefaults: true, Spin: SpinOff}, true, "ort-defaults"},
		{CPUTuning{Spin: "sometimes"}, false, ""},
		{CPUTuning{GraphOpt: "max"}, false, ""},
		{CPUTuning{InterOpThreads: -1}, false, ""},
	} {
		err := c.t.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%+v: Validate() = %v", c.t, err)
		}
		if c.ok && c.t.String() != c.name {
			t.Errorf("%+v: String() = %q, want %q", c.t, c.t.String(), c.name)
		}
	}
}

// Every tuning setting opens a session that computes what the default
// session does (graph optimisation levels may reorder float sums: 1e-5).
func TestOpenTuned(t *testing.T) {
	lib := testLibrary(t)
	if _, err := Init(lib); err != nil {
		t.Fatal(err)
	}
	model := testModel(t, "default")
	const side, per, n = 360, 128, 2
	rng := rand.New(rand.NewPCG(3, 4))
	in := make([]float32, n*3*side*side)
	for i := range in {
		in[i] = rng.Float32()*2 - 1
	}
	run := func(o Options) []float32 {
		t.Helper()
		s, err := Open(model, "default", o)
		if err != nil {
			t.Fatalf("%s: %v", o.Tuning, err)
		}
		defer s.Close()
		out := make([]float32, n*per)
		if err := s.Run(in, []int64{n, 3, side, side}, out, append([]int64{n}, s.Output().Dims[1:]...)); err != nil {
			t.Fatalf("%s: %v", o.Tuning, err)
		}
		return out
	}
	want := run(Options{Device: CPU})
	for _, o := range []Options{
		{Tuning: CPUTuning{Spin: SpinOff}},
		{Tuning: CPUTuning{Spin: SpinOn}},
		{Threads: 1, Tuning: CPUTuning{InterOpThreads: 1}},
		{Tuning: CPUTuning{GraphOpt: "off"}},
		{Tuning: CPUTuning{GraphOpt: "basic"}},
		{Tuning: CPUTuning{GraphOpt: "extended"}},
		{Tuning: CPUTuning{NoMemPattern: true, NoArena: true}},
		{Threads: 2, Tuning: CPUTuning{Affinity: true}},
		{Tuning: CPUTuning{ORTDefaults: true}},
	} {
		o.Device = CPU
		got := run(o)
		for i := range got {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*max(1, math.Abs(float64(want[i]))) {
				t.Fatalf("%s: output %d = %g, default session %g", o.Tuning, i, got[i], want[i])
			}
		}
	}
	if _, err := Open(model, "default", Options{Device: CPU, Tuning: CPUTuning{Spin: "sometimes"}}); err == nil {
		t.Error("a bad spinning policy opened")
	}
}
