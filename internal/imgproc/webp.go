package imgproc

import "image"

// Lossy WebP (VP8) stores BT.601 limited-range YCbCr 4:2:0. Pillow decodes
// it with libwebp, which upsamples chroma with a bilinear "fancy" filter and
// converts with 14-bit fixed-point BT.601 coefficients. x/image/webp hands
// back the raw planes; webpToRGB converts them the way libwebp does.

// webpClip8 maps a value with 6 fractional bits to 0..255.
func webpClip8(v int) uint8 {
	if v&^(256<<6-1) == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

func mulHi(v, c int) int { return (v * c) >> 8 }

func webpPixel(d []uint8, y, u, v int) {
	d[0] = webpClip8(mulHi(y, 19077) + mulHi(v, 26149) - 14234)
	d[1] = webpClip8(mulHi(y, 19077) - mulHi(u, 6419) - mulHi(v, 13320) + 8708)
	d[2] = webpClip8(mulHi(y, 19077) + mulHi(u, 33050) - 17685)
}

// webpToRGB converts a 4:2:0 VP8 frame as libwebp's EmitFancyRGB does:
// output row 0 and the last row of an even height use one chroma row; rows
// 2k-1 and 2k interpolate between chroma rows k-1 and k.
func webpToRGB(dst *RGB, m *image.YCbCr) {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	dst.reshape(w, h)
	cw := (w + 1) / 2
	ch := (h + 1) / 2
	crow := func(p []uint8, k int) []uint8 { return p[k*m.CStride : k*m.CStride+cw] }
	for y := 0; y < h; y++ {
		yrow := m.Y[y*m.YStride : y*m.YStride+w]
		var t, c int // chroma rows: the "top" and "current" of libwebp
		bottom := false
		if y > 0 {
			k := (y + 1) / 2
			if k >= ch {
				t, c = ch-1, ch-1
			} else {
				t, c = k-1, k
				bottom = y%2 == 0
			}
		}
		webpLine(dst.row(y), yrow, crow(m.Cb, t), crow(m.Cr, t), crow(m.Cb, c), crow(m.Cr, c), bottom)
	}
}

// webpLine is one half of libwebp's UpsampleRgbLinePair: the top output row
// leans towards chroma row (tu, tv), the bottom one towards (cu, cv).
func webpLine(d, yrow, tu, tv, cu, cv []uint8, bottom bool) {
	w := len(yrow)
	edge := func(tl, l int) int {
		if bottom {
			return (3*l + tl + 2) >> 2
		}
		return (3*tl + l + 2) >> 2
	}
	d[0] = 0
	webpPixel(d[0:3], int(yrow[0]), edge(int(tu[0]), int(cu[0])), edge(int(tv[0]), int(cv[0])))
	last := (w - 1) >> 1
	for x := 1; x <= last; x++ {
		var u0, u1, v0, v1 int
		u0, u1 = webpPair(int(tu[x-1]), int(tu[x]), int(cu[x-1]), int(cu[x]), bottom)
		v0, v1 = webpPair(int(tv[x-1]), int(tv[x]), int(cv[x-1]), int(cv[x]), bottom)
		i := 2*x - 1
		webpPixel(d[3*i:3*i+3], int(yrow[i]), u0, v0)
		webpPixel(d[3*i+3:3*i+6], int(yrow[i+1]), u1, v1)
	}
	if w&1 == 0 {
		webpPixel(d[3*(w-1):3*w], int(yrow[w-1]), edge(int(tu[last]), int(cu[last])), edge(int(tv[last]), int(cv[last])))
	}
}

// webpPair returns the chroma of the pixels 2x-1 and 2x given the samples
// top-left, top, left and current, with libwebp's rounding.
func webpPair(tl, t, l, c int, bottom bool) (int, int) {
	avg := tl + t + l + c + 8
	d12 := (avg + 2*(t+l)) >> 3
	d03 := (avg + 2*(tl+c)) >> 3
	if bottom {
		return (d03 + l) >> 1, (d12 + c) >> 1
	}
	return (d12 + tl) >> 1, (d03 + t) >> 1
}
