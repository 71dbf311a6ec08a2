//go:build cgo && !linux

package ort

import (
	"fmt"
	"runtime"
)

// dlopenGlobal is not used outside Linux: CUDA is wired for Linux only
// (CoreML covers macOS).
func dlopenGlobal(path string) error {
	return fmt.Errorf("loading %s: CUDA libraries are loaded on Linux only (this is %s)", path, runtime.GOOS)
}
