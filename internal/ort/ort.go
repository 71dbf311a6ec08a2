//go:build cgo

package ort

import (
	"errors"
	"fmt"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"
)

// runtimeState is the process-wide ONNX Runtime environment: the library allows
// one per process, so it is created on first use and kept.
var runtimeState struct {
	sync.Mutex
	path string
	err  error
}

// Available reports whether this build can run ONNX Runtime at all.
const Available = true

// Init loads the ONNX Runtime library found by FindLibrary(lib) and creates the
// process environment. Later calls return the first result; asking for a
// different library after one is loaded is an error.
func Init(lib string) (string, error) {
	runtimeState.Lock()
	defer runtimeState.Unlock()
	if runtimeState.path != "" || runtimeState.err != nil {
		if runtimeState.err == nil && lib != "" {
			if want, err := FindLibrary(lib); err == nil && want != runtimeState.path {
				return "", fmt.Errorf("ONNX Runtime already loaded from %s; cannot switch to %s in the same process", runtimeState.path, want)
			}
		}
		return runtimeState.path, runtimeState.err
	}
	path, err := FindLibrary(lib)
	if err != nil {
		return "", err // not cached: the user may fix the path and retry
	}
	if err := disableTelemetry(); err != nil {
		return "", err
	}
	onnx.SetSharedLibraryPath(path)
	if err := onnx.InitializeEnvironment(onnx.WithLogLevelError()); err != nil {
		runtimeState.err = fmt.Errorf("loading ONNX Runtime from %s: %w", path, err)
		return "", runtimeState.err
	}
	// Belt and braces beside TelemetryEnv: builds that ignore the variable
	// but honour the API stop sending from here on.
	if err := onnx.DisableTelemetry(); err != nil {
		runtimeState.err = fmt.Errorf("ONNX Runtime from %s: %w", path, err)
		return "", runtimeState.err
	}
	runtimeState.path = path
	return path, nil
}

// Version returns the loaded ONNX Runtime's version string.
func Version() string { return onnx.GetVersion() }

// Options configure a Session.
type Options struct {
	Device  Device
	Threads int // intra-op threads for the CPU provider; 0 lets ONNX Runtime choose
	GPU     int // device ordinal for CUDA
	// Tuning holds the CPU provider's session settings (spinning, thread
	// pools, graph optimisation, memory); the zero value is the default.
	Tuning CPUTuning
}

// TensorInfo describes one model input or output. A negative dimension is symbolic.
type TensorInfo struct {
	Name string
	Dims []int64
}

// Session is a loaded model with one float32 input and one float32 output.
// Run may be called from several goroutines at once.
type Session struct {
	s      *onnx.DynamicAdvancedSession
	in     TensorInfo
	out    TensorInfo
	device Device
}

// Open loads an ONNX model (its bytes) on the given device. name is used in errors.
// The model must have exactly one float32 tensor input and one float32 tensor output.
func Open(model []byte, name string, o Options) (*Session, error) {
	if len(model) == 0 {
		return nil, fmt.Errorf("model %s: empty file", name)
	}
	if runtimeState.path == "" {
		return nil, errors.New("ort: Init has not been called")
	}
	ins, outs, err := onnx.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, fmt.Errorf("model %s: not a loadable ONNX model: %w", name, err)
	}
	if len(ins) != 1 || len(outs) != 1 {
		return nil, fmt.Errorf("model %s: has %d inputs and %d outputs; want 1 and 1", name, len(ins), len(outs))
	}
	for _, io := range []onnx.InputOutputInfo{ins[0], outs[0]} {
		if io.OrtValueType != onnx.ONNXTypeTensor || io.DataType != onnx.TensorElementDataTypeFloat {
			return nil, fmt.Errorf("model %s: %q is %s; want a float32 tensor", name, io.Name, io.String())
		}
	}
	opts, err := onnx.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if err := applyCPUTuning(opts, o); err != nil {
		return nil, fmt.Errorf("model %s: session options: %w", name, err)
	}
	if err := appendProvider(opts, o); err != nil {
		return nil, err
	}
	s, err := onnx.NewDynamicAdvancedSessionWithONNXData(model, []string{ins[0].Name}, []string{outs[0].Name}, opts)
	if err != nil {
		return nil, fmt.Errorf("model %s: creating %s session: %w", name, o.Device, err)
	}
	return &Session{
		s:      s,
		in:     TensorInfo{ins[0].Name, append([]int64(nil), ins[0].Dimensions...)},
		out:    TensorInfo{outs[0].Name, append([]int64(nil), outs[0].Dimensions...)},
		device: o.Device,
	}, nil
}

// Input describes the model's input tensor.
func (s *Session) Input() TensorInfo { return s.in }

// Output describes the model's output tensor.
func (s *Session) Output() TensorInfo { return s.out }

// Device is the execution provider the session runs on.
func (s *Session) Device() Device { return s.device }

// Run runs the model on input, whose shape is inShape, writing into output of
// shape outShape. Both slices are used in place: no copies are made.
func (s *Session) Run(input []float32, inShape []int64, output []float32, outShape []int64) error {
	in, err := onnx.NewTensor(onnx.NewShape(inShape...), input)
	if err != nil {
		return fmt.Errorf("input tensor %v: %w", inShape, err)
	}
	defer in.Destroy()
	out, err := onnx.NewTensor(onnx.NewShape(outShape...), output)
	if err != nil {
		return fmt.Errorf("output tensor %v: %w", outShape, err)
	}
	defer out.Destroy()
	if err := s.s.Run([]onnx.Value{in}, []onnx.Value{out}); err != nil {
		return fmt.Errorf("inference: %w", err)
	}
	return nil
}

// Close frees the session.
func (s *Session) Close() error {
	if s == nil || s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	return err
}
