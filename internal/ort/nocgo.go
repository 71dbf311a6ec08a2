//go:build !cgo

package ort

import "errors"

// Available reports whether this build can run ONNX Runtime at all.
const Available = false

// ErrNoCgo is returned by every call of a build without cgo: ONNX Runtime is a C library.
var ErrNoCgo = errors.New("this vouchsafe was built without cgo, so it cannot load ONNX Runtime; rebuild with CGO_ENABLED=1")

// Init fails in a build without cgo.
func Init(lib string) (string, error) { return "", ErrNoCgo }

// Version is empty in a build without cgo.
func Version() string { return "" }

// Options configure a Session.
type Options struct {
	Device  Device
	Threads int
	GPU     int
	Tuning  CPUTuning
}

// TensorInfo describes one model input or output.
type TensorInfo struct {
	Name string
	Dims []int64
}

// Session cannot be created in a build without cgo.
type Session struct{}

// Open fails in a build without cgo.
func Open(model []byte, name string, o Options) (*Session, error) { return nil, ErrNoCgo }

// Input is empty in a build without cgo.
func (s *Session) Input() TensorInfo { return TensorInfo{} }

// Output is empty in a build without cgo.
func (s *Session) Output() TensorInfo { return TensorInfo{} }

// Device is empty in a build without cgo.
func (s *Session) Device() Device { return "" }

// Run fails in a build without cgo.
func (s *Session) Run(input []float32, inShape []int64, output []float32, outShape []int64) error {
	return ErrNoCgo
}

// Close does nothing in a build without cgo.
func (s *Session) Close() error { return nil }
