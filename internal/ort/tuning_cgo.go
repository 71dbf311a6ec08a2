//go:build cgo

package ort

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	onnx "github.com/yalue/onnxruntime_go"
)

// applyCPUTuning sets the CPU provider's threads and the session settings of
// o.Tuning (issue 15).
func applyCPUTuning(opts *onnx.SessionOptions, o Options) error {
	t := o.Tuning
	if err := t.Validate(); err != nil {
		return err
	}
	if t.ORTDefaults {
		return nil
	}
	threads := o.Threads
	if t.Affinity && threads == 0 {
		threads = runtime.NumCPU() // ONNX Runtime needs the count to pin
	}
	if threads > 0 {
		if err := opts.SetIntraOpNumThreads(threads); err != nil {
			return err
		}
	}
	if t.InterOpThreads > 0 {
		if err := opts.SetInterOpNumThreads(t.InterOpThreads); err != nil {
			return err
		}
	}
	level := map[string]onnx.GraphOptimizationLevel{
		"": onnx.GraphOptimizationLevelEnableAll, "all": onnx.GraphOptimizationLevelEnableAll,
		"extended": onnx.GraphOptimizationLevelEnableExtended, "basic": onnx.GraphOptimizationLevelEnableBasic,
		"off": onnx.GraphOptimizationLevelDisableAll,
	}[t.GraphOpt]
	if err := opts.SetGraphOptimizationLevel(level); err != nil {
		return err
	}
	if t.NoMemPattern {
		if err := opts.SetMemPattern(false); err != nil {
			return err
		}
	}
	if t.NoArena {
		if err := opts.SetCpuMemArena(false); err != nil {
			return err
		}
	}
	if o.Device != CPU {
		return nil
	}
	spin := t.Spin
	if spin == "" {
		spin = DefaultSpin
	}
	switch spin {
	case SpinOff:
		// Decode workers share the cores with inference; ONNX Runtime's
		// threads would otherwise spin between calls and take their time.
		if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
			return err
		}
	case SpinRun:
		if err := opts.AddSessionConfigEntry("session.force_spinning_stop", "1"); err != nil {
			return err
		}
	}
	if t.Affinity && threads > 1 {
		// One entry per intra-op thread beyond the caller's, 1-based
		// logical processors: thread i on processor i+1.
		var aff []string
		for i := 1; i < threads; i++ {
			aff = append(aff, strconv.Itoa(i%runtime.NumCPU()+1))
		}
		if err := opts.AddSessionConfigEntry("session.intra_op_thread_affinities", strings.Join(aff, ";")); err != nil {
			return fmt.Errorf("thread affinity: %w", err)
		}
	}
	return nil
}
