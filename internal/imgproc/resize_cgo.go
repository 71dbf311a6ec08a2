//go:build cgo

package imgproc

/*
#cgo CFLAGS: -O3
#include "resize_native.h"
*/
import "C"

import "unsafe"

// bestKernel is the fastest resize kernel this CPU runs.
var bestKernel = func() kernel {
	if C.vs_resize_have_avx2() != 0 {
		return kernelAVX2
	}
	return kernelGeneric
}()

// nativeKernels lists the kernels of this build besides kernelGo.
var nativeKernels = func() []kernel {
	if bestKernel == kernelAVX2 {
		return []kernel{kernelGeneric, kernelAVX2}
	}
	return []kernel{kernelGeneric}
}()

func (r *Resizer) nativeKernel() kernel {
	switch r.kernel {
	case kernelAuto:
		return bestKernel
	case kernelAVX2:
		if bestKernel != kernelAVX2 {
			return kernelGeneric
		}
	}
	return r.kernel
}

// fits reports whether rows y0..y1-1 of m, w bytes each, lie inside m.Pix.
func fits(m *RGB, y0, y1, w int) bool {
	if y0 < 0 || y1 <= y0 || w <= 0 || m.Stride < w || y1-1 > len(m.Pix)/m.Stride {
		return false
	}
	return (y1-1)*m.Stride+w <= len(m.Pix)
}

// horizontal filters rows first..first+rows-1 of src into rows 0..rows-1
// of dst, in C. Images whose memory does not hold the rows (which the Go
// code reports by panicking) go through the Go code.
func (r *Resizer) horizontal(dst, src *RGB, first, rows int, a *axis) {
	kern := r.nativeKernel()
	if kern == kernelGo || !fits(src, first, first+rows, 3*a.in) || !fits(dst, 0, rows, 3*a.out) {
		r.horizontalGo(dst, src, first, rows, a)
		return
	}
	var plan *C.int32_t
	if kern == kernelAVX2 {
		if a.plan == nil {
			var words C.size_t
			C.vs_plan_size(C.int(a.out), C.int(a.ksize), &words)
			a.plan = make([]int32, max(int(words), 1))
			C.vs_plan((*C.int32_t)(&a.plan[0]), C.int(a.out), C.int(a.ksize),
				(*C.int32_t)(&a.start[0]), (*C.int32_t)(&a.n[0]), (*C.int32_t)(&a.k[0]))
		}
		plan = (*C.int32_t)(&a.plan[0])
	}
	s := unsafe.Pointer(&src.Pix[0])
	C.vs_hrows((*C.uint8_t)(&dst.Pix[0]), C.ptrdiff_t(dst.Stride),
		(*C.uint8_t)(unsafe.Add(s, first*src.Stride)), C.ptrdiff_t(src.Stride),
		C.size_t(len(src.Pix)-first*src.Stride), C.int(rows), C.int(a.out), C.int(a.ksize),
		(*C.int32_t)(&a.start[0]), (*C.int32_t)(&a.n[0]), (*C.int32_t)(&a.k[0]), plan, C.int(kern-kernelGeneric))
}

// vertical filters the columns of src, whose row 0 is input row first,
// into dst, in C.
func (r *Resizer) vertical(dst, src *RGB, first int, a *axis) {
	kern := r.nativeKernel()
	w := 3 * dst.Rect.Dx()
	y0 := int(a.start[0]) - first
	y1 := int(a.start[a.out-1]+a.n[a.out-1]) - first
	if kern == kernelGo || !fits(src, y0, y1, w) || !fits(dst, 0, a.out, w) {
		r.verticalGo(dst, src, first, a)
		return
	}
	if cap(r.acc) < w {
		r.acc = make([]int32, w)
	}
	C.vs_vrows((*C.uint8_t)(&dst.Pix[0]), C.ptrdiff_t(dst.Stride),
		(*C.uint8_t)(&src.Pix[0]), C.ptrdiff_t(src.Stride), C.int(first), C.int(w), C.int(a.out), C.int(a.ksize),
		(*C.int32_t)(&a.start[0]), (*C.int32_t)(&a.n[0]), (*C.int32_t)(&a.k[0]),
		(*C.int32_t)(&r.acc[:w][0]), C.int(kern-kernelGeneric))
}
