//go:build !cgo

package imgproc

// horizontal filters rows first..first+rows-1 of src into rows 0..rows-1
// of dst. Pure-Go builds have only the Go kernels.
func (r *Resizer) horizontal(dst, src *RGB, first, rows int, a *axis) {
	r.horizontalGo(dst, src, first, rows, a)
}

// vertical filters the columns of src, whose row 0 is input row first,
// into dst.
func (r *Resizer) vertical(dst, src *RGB, first int, a *axis) {
	r.verticalGo(dst, src, first, a)
}

// nativeKernels lists the kernels of this build besides kernelGo.
var nativeKernels []kernel
