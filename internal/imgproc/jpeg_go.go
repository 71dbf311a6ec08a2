package imgproc

import "image"

// jpegYCbCrToRGB converts the planes that image/jpeg decodes the way
// libjpeg(-turbo) does by default, so that the pure-Go path lands close to
// Pillow: "fancy" triangular chroma upsampling for 2:1 factors (h2v1, h2v2,
// h1v2) and libjpeg's fixed-point BT.601 full-range conversion. Only the
// IDCT, which image/jpeg computes differently, remains apart.
func jpegYCbCrToRGB(dst *RGB, m *image.YCbCr) {
	var hs, vs int
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	default: // 4:1:1 and 4:1:0: libjpeg replicates too
		ycbcrToRGB(dst, m)
		return
	}
	b := m.Rect
	w, h := b.Dx(), b.Dy()
	dst.reshape(w, h)
	cw := (w + (1 << hs) - 1) >> hs
	ch := (h + (1 << vs) - 1) >> vs
	// Column sums of the vertical pass (3×nearer + farther), or the plain
	// samples scaled the same way when there is no vertical subsampling.
	sumCb := make([]int32, cw)
	sumCr := make([]int32, cw)
	cb := make([]uint8, w)
	cr := make([]uint8, w)
	crow := func(p []uint8, k int) []uint8 {
		i := m.COffset(b.Min.X, b.Min.Y) + k*m.CStride
		return p[i : i+cw]
	}
	for y := 0; y < h; y++ {
		ci := y >> vs
		if vs == 1 {
			nb := ci - 1 // even rows lean on the row above, odd on the row below
			if y&1 == 1 {
				nb = ci + 1
			}
			nb = max(0, min(nb, ch-1))
			n0, n1 := crow(m.Cb, ci), crow(m.Cb, nb)
			r0, r1 := crow(m.Cr, ci), crow(m.Cr, nb)
			for j := range sumCb {
				sumCb[j] = 3*int32(n0[j]) + int32(n1[j])
				sumCr[j] = 3*int32(r0[j]) + int32(r1[j])
			}
		} else {
			n0, r0 := crow(m.Cb, ci), crow(m.Cr, ci)
			for j := range sumCb {
				sumCb[j] = int32(n0[j])
				sumCr[j] = int32(r0[j])
			}
		}
		switch {
		case hs == 1 && vs == 1: // h2v2
			fancyH(cb, sumCb, 4, 8, 7)
			fancyH(cr, sumCr, 4, 8, 7)
		case hs == 1: // h2v1
			fancyH(cb, sumCb, 2, 1, 2)
			fancyH(cr, sumCr, 2, 1, 2)
		case vs == 1: // h1v2
			bias := int32(1 + y&1)
			for x := range cb {
				cb[x] = uint8((sumCb[x] + bias) >> 2)
				cr[x] = uint8((sumCr[x] + bias) >> 2)
			}
		default:
			for x := range cb {
				cb[x], cr[x] = uint8(sumCb[x]), uint8(sumCr[x])
			}
		}
		yi := m.YOffset(b.Min.X, b.Min.Y+y)
		yrow := m.Y[yi : yi+w]
		d := dst.row(y)
		for x, yy := range yrow {
			d[3*x], d[3*x+1], d[3*x+2] = libjpegRGB(int32(yy), int32(cb[x]), int32(cr[x]))
		}
	}
}

// fancyH upsamples a row of chroma column sums 2:1 horizontally with
// libjpeg's triangle filter: 3/4 of the nearer sample plus 1/4 of the
// farther one. shift is 2 for h2v1 and 4 for h2v2 (whose sums are already
// scaled by 4); left and right are the rounding biases of the even and odd
// outputs.
func fancyH(out []uint8, s []int32, shift uint, left, right int32) {
	n := len(s)
	edge := int32(4)
	if shift == 2 {
		edge = 0 // h2v1 copies the edge samples
	}
	for x := range out {
		j := x >> 1
		var v int32
		switch {
		case x&1 == 0 && j == 0:
			if edge == 0 {
				v = s[0] << shift
			} else {
				v = s[0]*edge + left
			}
		case x&1 == 1 && j == n-1:
			if edge == 0 {
				v = s[j] << shift
			} else {
				v = s[j]*edge + right
			}
		case x&1 == 0:
			v = 3*s[j] + s[j-1] + left
		default:
			v = 3*s[j] + s[j+1] + right
		}
		out[x] = uint8(v >> shift)
	}
}

// libjpegRGB is libjpeg's ycc_rgb_convert: 16-bit fixed point, rounding
// folded into the tables, arithmetic shifts, then range limiting.
func libjpegRGB(y, cb, cr int32) (uint8, uint8, uint8) {
	const half = 1 << 15
	cb -= 128
	cr -= 128
	r := y + (91881*cr+half)>>16
	g := y + (-22554*cb+half-46802*cr)>>16
	b := y + (116130*cb+half)>>16
	return clamp8(r), clamp8(g), clamp8(b)
}

func clamp8(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}
