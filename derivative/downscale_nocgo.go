//go:build !cgo

package derivative

// downscaleNative reports false: without cgo, Downscale runs in Go.
func downscaleNative(out []byte, w, h int, src []byte, stride, step, sw, sh int) bool { return false }

func downscaleKernel(avx2 bool, out []byte, w, h int, src []byte, stride, step, sw, sh int) bool {
	return false
}

func nativeKernels() []bool { return nil }
