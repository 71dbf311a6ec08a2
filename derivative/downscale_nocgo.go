//go:build !cgo

package derivative

// downscaleNative reports false: without cgo, Downscale runs in Go.
func downscaleNative(out []byte, w, h int, src []byte, stride, step, sw, sh int) bool { return false }

func nativeVariants() []int { return nil }

func setNativeVariant(v int) int { return -1 }
