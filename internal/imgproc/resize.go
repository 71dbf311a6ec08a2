package imgproc

import (
	"fmt"
	"math"
)

// precisionBits is the number of fractional bits of the fixed-point filter
// coefficients. Pillow uses 32-8-2: eight bits for the pixel value and two
// bits of headroom for the negative lobes of the bicubic kernel.
const precisionBits = 32 - 8 - 2

// bicubicSupport is the radius of the a = -0.5 cubic convolution kernel.
const bicubicSupport = 2.0

// bicubic is the Keys cubic convolution kernel with a = -0.5, evaluated in
// float64 exactly as Pillow does. The explicit float64 conversions forbid
// fused multiply-add so that every platform rounds like the reference.
func bicubic(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		t := float64(float64((a+2)*x) - (a + 3))
		t = float64(t * x)
		t = float64(t * x)
		return t + 1
	}
	if x < 2 {
		t := float64(float64(x-5) * x)
		t = float64(float64(t+8) * x)
		return float64(float64(t-4) * a)
	}
	return 0
}

// axis holds the fixed-point filter of one resampling direction: for output
// sample i, the taps k[i*ksize : i*ksize+n[i]] apply to input samples
// start[i], start[i]+1, ...
type axis struct {
	in, out int
	ksize   int
	start   []int32
	n       []int32
	k       []int32
	// plan is the layout of the taps for the native horizontal kernel,
	// built on first use (cgo builds only).
	plan []int32
}

// newAxis computes Pillow's bicubic coefficients for resampling inSize
// samples to outSize samples (precompute_coeffs followed by
// normalize_coeffs_8bpc in Pillow's Resample.c).
func newAxis(inSize, outSize int) *axis {
	scale := float64(inSize) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := bicubicSupport * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	a := &axis{
		in: inSize, out: outSize, ksize: ksize,
		start: make([]int32, outSize),
		n:     make([]int32, outSize),
		k:     make([]int32, outSize*ksize),
	}
	w := make([]float64, ksize)
	ss := 1 / filterscale
	for xx := 0; xx < outSize; xx++ {
		center := float64(float64(xx)+0.5) * scale
		xmin := int(float64(center-support) + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(float64(center+support) + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			v := bicubic(float64(float64(float64(x+xmin)-center)+0.5) * ss)
			w[x] = v
			ww += v
		}
		k := a.k[xx*ksize : (xx+1)*ksize]
		for x := 0; x < xmax; x++ {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			f := float64(v * (1 << precisionBits))
			if v < 0 {
				k[x] = int32(-0.5 + f)
			} else {
				k[x] = int32(0.5 + f)
			}
		}
		a.start[xx] = int32(xmin)
		a.n[xx] = int32(xmax)
	}
	return a
}

// clip8 converts a fixed-point accumulator to a pixel value, saturating.
func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// Resizer resamples RGB images with Pillow's BICUBIC filter, bit for bit.
// It caches coefficient tables and scratch memory, so resizing many images
// of the same geometry allocates nothing. In cgo builds the two passes run
// in C (with AVX2 where the CPU has it), which computes the same integer
// sums as the Go code of this file. A Resizer is not safe for concurrent
// use; give each goroutine its own. The zero value is ready.
type Resizer struct {
	axes []*axis // small cache of coefficient tables
	tmp  []uint8
	acc  []int32
	// kernel selects the implementation of the passes; the zero value
	// picks the fastest one available. Tests set it to compare them.
	kernel kernel
}

// kernel names an implementation of the resampling passes.
type kernel int

const (
	kernelAuto    kernel = iota // fastest available
	kernelGo                    // the Go code of this file
	kernelGeneric               // portable C (cgo builds)
	kernelAVX2                  // AVX2 C (cgo builds on CPUs with AVX2)
)

// maxCachedAxes bounds the coefficient cache of a Resizer.
const maxCachedAxes = 16

func (r *Resizer) axis(in, out int) *axis {
	for i, a := range r.axes {
		if a.in == in && a.out == out {
			if i > 0 { // move to front
				copy(r.axes[1:i+1], r.axes[:i])
				r.axes[0] = a
			}
			return a
		}
	}
	a := newAxis(in, out)
	if len(r.axes) < maxCachedAxes {
		r.axes = append(r.axes, nil)
	}
	copy(r.axes[1:], r.axes[:len(r.axes)-1])
	r.axes[0] = a
	return a
}

// Resize resamples src into dst, whose size selects the output geometry,
// exactly as Pillow's Image.resize(dst.size, Image.BICUBIC) does on an RGB
// image: a horizontal pass over the rows the vertical filter needs, rounded
// and clipped to 8 bits, then a vertical pass. Equal sizes copy.
func (r *Resizer) Resize(dst, src *RGB) error {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := dst.Rect.Dx(), dst.Rect.Dy()
	if sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 {
		return fmt.Errorf("imgproc: cannot resize %dx%d image to %dx%d", sw, sh, dw, dh)
	}
	if sw == dw && sh == dh {
		for y := 0; y < sh; y++ {
			copy(dst.row(y), src.row(y))
		}
		return nil
	}
	needH := sw != dw
	needV := sh != dh
	if !needV {
		r.horizontal(dst, src, 0, sh, r.axis(sw, dw))
		return nil
	}
	va := r.axis(sh, dh)
	if !needH {
		r.vertical(dst, src, 0, va)
		return nil
	}
	ha := r.axis(sw, dw)
	// Rows of src that the vertical filter reads.
	first := int(va.start[0])
	last := int(va.start[dh-1] + va.n[dh-1])
	rows := last - first
	stride := 3 * dw
	if cap(r.tmp) < rows*stride {
		r.tmp = make([]uint8, rows*stride)
	}
	tmp := &RGB{Pix: r.tmp[:rows*stride], Stride: stride}
	tmp.Rect.Max.X, tmp.Rect.Max.Y = dw, rows
	r.horizontal(tmp, src, first, rows, ha)
	r.vertical(dst, tmp, first, va)
	return nil
}

// horizontalGo filters rows first..first+rows-1 of src into rows 0..rows-1
// of dst.
func (r *Resizer) horizontalGo(dst, src *RGB, first, rows int, a *axis) {
	for y := 0; y < rows; y++ {
		r.horizontalRow(dst.row(y), src.row(first+y), a)
	}
}

// horizontalRow filters one row of RGB pixels.
func (r *Resizer) horizontalRow(dst, src []uint8, a *axis) {
	ks := a.ksize
	dst = dst[:3*a.out]
	for xx := 0; xx < a.out; xx++ {
		n := int(a.n[xx])
		st := 3 * int(a.start[xx])
		s0, s1, s2 := dot3(a.k[xx*ks:xx*ks+n], src[st:st+3*n])
		d := dst[3*xx : 3*xx+3 : 3*xx+3]
		d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
	}
}

// dot3 returns the rounding offset plus the dot products of taps k with
// the red, green and blue samples of the interleaved pixels s. It is kept
// out of line so that its accumulators stay in registers.
//
//go:noinline
func dot3(k []int32, s []uint8) (r, g, b int32) {
	r, g, b = 1<<(precisionBits-1), 1<<(precisionBits-1), 1<<(precisionBits-1)
	for len(k) > 0 && len(s) >= 3 {
		c := k[0]
		r += int32(s[0]) * c
		g += int32(s[1]) * c
		b += int32(s[2]) * c
		k, s = k[1:], s[3:]
	}
	return r, g, b
}

// verticalGo filters the columns of src (whose row 0 is input row `first`)
// into dst. It accumulates whole rows so that memory is read sequentially;
// integer sums do not depend on the order of the terms.
func (r *Resizer) verticalGo(dst, src *RGB, first int, a *axis) {
	w := 3 * dst.Rect.Dx()
	if cap(r.acc) < w {
		r.acc = make([]int32, w)
	}
	acc := r.acc[:w]
	ks := a.ksize
	for yy := 0; yy < a.out; yy++ {
		n := int(a.n[yy])
		k := a.k[yy*ks : yy*ks+n]
		y0 := int(a.start[yy]) - first
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		j := 0
		for ; j+2 <= len(k); j += 2 {
			c0, c1 := k[j], k[j+1]
			r0 := src.row(y0 + j)[:w]
			r1 := src.row(y0 + j + 1)[:w]
			r1 = r1[:len(r0)]
			acc := acc[:len(r0)]
			for i, p := range r0 {
				acc[i] += int32(p)*c0 + int32(r1[i])*c1
			}
		}
		if j < len(k) {
			c := k[j]
			row := src.row(y0 + j)[:w]
			acc := acc[:len(row)]
			for i, p := range row {
				acc[i] += int32(p) * c
			}
		}
		out := dst.row(yy)[:w]
		for i, v := range acc {
			out[i] = clip8(v)
		}
	}
}

// ResizeBicubic returns src resized to w×h with Pillow's BICUBIC filter.
// It allocates; use a Resizer to resize many images.
func ResizeBicubic(src *RGB, w, h int) (*RGB, error) {
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("imgproc: invalid target size %dx%d", w, h)
	}
	dst := NewRGB(w, h)
	var r Resizer
	if err := r.Resize(dst, src); err != nil {
		return nil, err
	}
	return dst, nil
}
