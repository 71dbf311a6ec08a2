package pdq

import (
	"image"
	"image/color"

	"github.com/vouchsafe/vouchsafe/internal/imgproc"
)

// The reference's luminance coefficients (float32, as in its C++).
const (
	lumaR float32 = 0.299
	lumaG float32 = 0.587
	lumaB float32 = 0.114
)

// lumaTab holds the reference's float32 products coefficient × sample, so
// that luma only adds.
var lumaTab = func() (t [3][256]float32) {
	for i := range 256 {
		t[0][i] = lumaR * float32(i)
		t[1][i] = lumaG * float32(i)
		t[2][i] = lumaB * float32(i)
	}
	return t
}()

// luma is the reference's fillFloatLumaFromRGB for one pixel, with its
// float32 rounding and evaluation order: (R·cR + G·cG) + B·cB.
func luma(r, g, b uint8) float32 {
	return (lumaTab[0][r] + lumaTab[1][g]) + lumaTab[2][b]
}

// fillLuma writes the luminance of img into h.luma (row-major). Grey images
// give their samples unchanged, as the reference's fillFloatLumaFromGrey;
// alpha is ignored (straight, not premultiplied, colour is used), as the
// reference ignores a fourth channel.
func (h *Hasher) fillLuma(img image.Image) {
	r := img.Bounds()
	w, ht := r.Dx(), r.Dy()
	dst := h.luma
	switch m := img.(type) {
	case *image.YCbCr:
		if r.Min == (image.Point{}) && h.fillLumaYCbCr(m) {
			return
		}
	case *imgproc.RGB:
		for y := 0; y < ht; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+3*w]
			out := dst[y*w : (y+1)*w]
			for x := range out {
				p := row[3*x : 3*x+3 : 3*x+3]
				out[x] = luma(p[0], p[1], p[2])
			}
		}
		return
	case *image.Gray:
		for y := 0; y < ht; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			out := dst[y*w : (y+1)*w]
			for x, v := range row {
				out[x] = float32(v)
			}
		}
		return
	case *image.RGBA:
		for y := 0; y < ht; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			out := dst[y*w : (y+1)*w]
			for x := range out {
				p := row[4*x : 4*x+4 : 4*x+4]
				if p[3] != 0xff {
					c := color.NRGBAModel.Convert(color.RGBA{p[0], p[1], p[2], p[3]}).(color.NRGBA)
					out[x] = luma(c.R, c.G, c.B)
					continue
				}
				out[x] = luma(p[0], p[1], p[2])
			}
		}
		return
	case *image.NRGBA:
		for y := 0; y < ht; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			out := dst[y*w : (y+1)*w]
			for x := range out {
				p := row[4*x : 4*x+3 : 4*x+3]
				out[x] = luma(p[0], p[1], p[2])
			}
		}
		return
	}
	for y := 0; y < ht; y++ {
		out := dst[y*w : (y+1)*w]
		for x := range out {
			c := color.NRGBAModel.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA)
			out[x] = luma(c.R, c.G, c.B)
		}
	}
}

// fillLumaYCbCr converts a decoded JPEG as libjpeg (and so the reference)
// does: chroma planes upsampled with libjpeg's "fancy" triangular filter
// (h2v2, h2v1, h1v2) and YCbCr converted with its fixed-point arithmetic. It
// reports false, writing nothing, for subsampling ratios it leaves to the
// generic path (4:1:1 and 4:1:0, which libjpeg upsamples by replication, as
// image.YCbCr.At does).
func (h *Hasher) fillLumaYCbCr(m *image.YCbCr) bool {
	w, ht := m.Rect.Dx(), m.Rect.Dy()
	var hs, vs int // horizontal, vertical subsampling shift
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	default:
		return false
	}
	cw, ch := (w+hs)>>hs, (ht+vs)>>vs
	if len(m.Cb) < (ch-1)*m.CStride+cw || len(m.Cr) < (ch-1)*m.CStride+cw || len(m.Y) < (ht-1)*m.YStride+w {
		return false
	}
	h.cb = grow(h.cb, max(w, cw<<hs))
	h.cr = grow(h.cr, max(w, cw<<hs))
	for y := 0; y < ht; y++ {
		// The chroma rows this output row blends: the nearest (weight 3)
		// and the next nearest (weight 1), libjpeg replicating the edge
		// rows.
		cy := y >> vs
		ny := cy
		if vs == 1 {
			if y&1 == 0 {
				ny = max(cy-1, 0)
			} else {
				ny = min(cy+1, ch-1)
			}
		}
		upsampleRow(h.cb, m.Cb[cy*m.CStride:cy*m.CStride+cw], m.Cb[ny*m.CStride:ny*m.CStride+cw], hs, vs, y&1)
		upsampleRow(h.cr, m.Cr[cy*m.CStride:cy*m.CStride+cw], m.Cr[ny*m.CStride:ny*m.CStride+cw], hs, vs, y&1)
		yrow := m.Y[y*m.YStride : y*m.YStride+w]
		out := h.luma[y*w : (y+1)*w]
		cb, cr := h.cb[:w], h.cr[:w]
		for x, yv := range yrow {
			r, g, b := yccToRGB(int32(yv), cb[x], cr[x])
			out[x] = luma(r, g, b)
		}
	}
	return true
}

// upsampleRow writes the chroma samples of one output row (len(dst) ≥
// len(near)<<hs) from the nearest chroma row near and the next nearest far,
// as libjpeg-turbo's fancy upsamplers do (yodd: the output row is the second
// of its pair, which selects h1v2's rounding bias).
func upsampleRow(dst []int32, near, far []uint8, hs, vs, yodd int) {
	cw := len(near)
	far = far[:cw]
	switch {
	case hs == 0 && vs == 0:
		dst = dst[:cw]
		for x, v := range near {
			dst[x] = int32(v)
		}
	case hs == 0:
		// h1v2: (3·near + far + 1 or 2) >> 2.
		bias := int32(1 + yodd)
		dst = dst[:cw]
		for x, v := range near {
			dst[x] = (3*int32(v) + int32(far[x]) + bias) >> 2
		}
	case vs == 0:
		// h2v1: out[2c] = (3·in[c] + in[c-1] + 1) >> 2,
		// out[2c+1] = (3·in[c] + in[c+1] + 2) >> 2, end samples copied.
		dst = dst[:2*cw]
		dst[0] = int32(near[0])
		dst[2*cw-1] = int32(near[cw-1])
		for c := 1; c < cw; c++ {
			dst[2*c] = (3*int32(near[c]) + int32(near[c-1]) + 1) >> 2
		}
		for c := 0; c < cw-1; c++ {
			dst[2*c+1] = (3*int32(near[c]) + int32(near[c+1]) + 2) >> 2
		}
	default:
		// h2v2: column sums s = 3·near + far, then
		// out[2c] = (3·s[c] + s[c-1] + 8) >> 4,
		// out[2c+1] = (3·s[c] + s[c+1] + 7) >> 4, ends 4·s[c].
		dst = dst[:2*cw]
		this := 3*int32(near[0]) + int32(far[0])
		dst[0] = (4*this + 8) >> 4
		for c := 1; c < cw; c++ {
			next := 3*int32(near[c]) + int32(far[c])
			dst[2*c-1] = (3*this + next + 7) >> 4
			dst[2*c] = (3*next + this + 8) >> 4
			this = next
		}
		dst[2*cw-1] = (4*this + 7) >> 4
	}
}

// yccToRGB is libjpeg's ycc_rgb_convert (jdcolor.c): 16-bit fixed point,
// FIX(x) = round(x·65536), with its rounding.
func yccToRGB(y, cb, cr int32) (uint8, uint8, uint8) {
	cb -= 128
	cr -= 128
	r := y + (91881*cr+1<<15)>>16
	g := y + (-22554*cb+1<<15-46802*cr)>>16
	b := y + (116130*cb+1<<15)>>16
	return uint8(min(max(r, 0), 255)), uint8(min(max(g, 0), 255)), uint8(min(max(b, 0), 255))
}
