package ort

import "fmt"

// Device names an ONNX Runtime execution provider.
type Device string

// The devices a session can run on. Auto picks CUDA where its provider and the
// CUDA libraries load, CoreML on macOS, and the CPU otherwise.
const (
	Auto   Device = "auto"
	CPU    Device = "cpu"
	CUDA   Device = "cuda"
	CoreML Device = "coreml"
)

// ParseDevice validates a --device value.
func ParseDevice(s string) (Device, error) {
	switch d := Device(s); d {
	case Auto, CPU, CUDA, CoreML:
		return d, nil
	}
	return "", fmt.Errorf("unknown device %q (want auto, cpu, cuda or coreml)", s)
}
