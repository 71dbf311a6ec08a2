package ort

import (
	"fmt"
	"strings"
)

// Spinning policies of the CPU provider's intra-op threads (CPUTuning.Spin).
const (
	// SpinOff: threads sleep as soon as they run out of work, leaving the
	// cores to the decode workers between and during calls.
	SpinOff = "off"
	// SpinOn is ONNX Runtime's own default: threads spin while waiting for
	// work, within a call and between calls.
	SpinOn = "on"
	// SpinRun spins within a call and stops at its end
	// (session.force_spinning_stop): the parallel sections of one inference
	// hand over fast, and decoding gets the cores between calls.
	SpinRun = "run"
)

// CPUTuning holds the ONNX Runtime CPU session settings that vsbench's
// --variants measures (issue 15). The zero value is vouchsafe's default, chosen
// from those measurements (bench/README.md).
type CPUTuning struct {
	// Spin is SpinOff, SpinOn or SpinRun; empty means the default (SpinRun).
	Spin string
	// InterOpThreads sets ONNX Runtime's inter-op pool (0: its default).
	InterOpThreads int
	// GraphOpt is the graph optimisation level: all (the default), extended,
	// basic or off.
	GraphOpt string
	// NoMemPattern and NoArena turn off the memory pattern planner and the
	// CPU memory arena.
	NoMemPattern, NoArena bool
	// Affinity pins the intra-op threads to cores, one each (needs Threads).
	Affinity bool
	// ORTDefaults ignores everything else, Threads included: the session
	// options ONNX Runtime defaults to, as the reference pipeline uses them.
	ORTDefaults bool
}

// DefaultSpin is the spinning policy of a zero CPUTuning.
const DefaultSpin = SpinRun

// Validate checks the names in t.
func (t CPUTuning) Validate() error {
	switch t.Spin {
	case "", SpinOff, SpinOn, SpinRun:
	default:
		return fmt.Errorf("spinning policy %q: want off, on or run", t.Spin)
	}
	switch t.GraphOpt {
	case "", "all", "extended", "basic", "off":
	default:
		return fmt.Errorf("graph optimisation level %q: want all, extended, basic or off", t.GraphOpt)
	}
	if t.InterOpThreads < 0 {
		return fmt.Errorf("inter-op threads %d: want ≥ 0", t.InterOpThreads)
	}
	return nil
}

// String names the settings that differ from the default ("spin=on+noarena"),
// or "default".
func (t CPUTuning) String() string {
	if t.ORTDefaults {
		return "ort-defaults"
	}
	var p []string
	if t.Spin != "" && t.Spin != DefaultSpin {
		p = append(p, "spin="+t.Spin)
	}
	if t.InterOpThreads > 0 {
		p = append(p, fmt.Sprintf("inter=%d", t.InterOpThreads))
	}
	if t.GraphOpt != "" && t.GraphOpt != "all" {
		p = append(p, "opt="+t.GraphOpt)
	}
	if t.NoMemPattern {
		p = append(p, "nomempattern")
	}
	if t.NoArena {
		p = append(p, "noarena")
	}
	if t.Affinity {
		p = append(p, "affinity")
	}
	if len(p) == 0 {
		return "default"
	}
	return strings.Join(p, "+")
}
