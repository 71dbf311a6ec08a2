//go:build cgo

package pdq

import (
	"image"

	"github.com/vouchsafe/vouchsafe/internal/imgproc"
	"github.com/vouchsafe/vouchsafe/internal/jpeg"
)

// turboJPEG reports whether JPEG is decoded by libjpeg-turbo in this build
// (with cgo) rather than by image/jpeg.
const turboJPEG = true

// decodeJPEGRef decodes a JPEG as Meta's C++ tool reads it: through
// ImageMagick (whose JPEG reader selects libjpeg's floating-point IDCT) and
// IJG libjpeg 7 or later, which brings 4:2:0 chroma to full resolution in
// the DCT domain (a 16×16 inverse DCT of each 8×8 chroma block) rather than
// with libjpeg 6's triangular filter. libjpeg-turbo does both when asked
// for raw data (jpeg.DecodePlanes): the luma at scale 1 with the float
// IDCT, the chroma at scale 2.
//
// It handles greyscale files and YCbCr files with 4:4:4 or 4:2:0 sampling,
// returning an *image.Gray or a 4:4:4 *image.YCbCr, and reports false for
// other files (CMYK, 4:2:2, ...), which the caller decodes as before.
// libjpeg's errors go through imgproc.LibJPEGError, so that a truncated
// file wraps imgproc.ErrTruncated as in the NeuralHash decoder.
func decodeJPEGRef(data []byte) (image.Image, bool, error) {
	if len(data) == 0 {
		return nil, false, nil
	}
	hd, err := jpeg.ReadHeader(data)
	if err != nil {
		return nil, false, imgproc.LibJPEGError(err)
	}
	w, h := hd.Width, hd.Height
	if w <= 0 || h <= 0 || hd.Precision != 8 {
		return nil, false, nil
	}
	luma := jpeg.Options{DCT: jpeg.DCTFloat}
	switch {
	case hd.Components == 1 && hd.ColorSpace == jpeg.Gray:
		m := image.NewGray(image.Rect(0, 0, w, h))
		if _, err := jpeg.DecodePlanes(data, luma, [3][]byte{m.Pix}, w, h); err != nil {
			return nil, false, imgproc.LibJPEGError(err)
		}
		return m, true, nil
	case hd.Components == 3 && hd.ColorSpace == jpeg.YCbCr:
		s := hd.Sampling
		if s[1] != (jpeg.Sampling{H: 1, V: 1}) || s[2] != (jpeg.Sampling{H: 1, V: 1}) {
			return nil, false, nil
		}
		m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio444)
		switch s[0] {
		case jpeg.Sampling{H: 1, V: 1}:
			if _, err := jpeg.DecodePlanes(data, luma, [3][]byte{m.Y, m.Cb, m.Cr}, w, h); err != nil {
				return nil, false, imgproc.LibJPEGError(err)
			}
		case jpeg.Sampling{H: 2, V: 2}:
			if _, err := jpeg.DecodePlanes(data, luma, [3][]byte{m.Y, nil, nil}, w, h); err != nil {
				return nil, false, imgproc.LibJPEGError(err)
			}
			// Twice the scale: the chroma blocks of a 4:2:0 file come out at
			// full resolution through libjpeg's 16×16 IDCT (the luma is
			// skipped).
			chroma := jpeg.Options{ScaleNum: 16, ScaleDenom: 8, DCT: jpeg.DCTISlow}
			if _, err := jpeg.DecodePlanes(data, chroma, [3][]byte{nil, m.Cb, m.Cr}, w, h); err != nil {
				return nil, false, imgproc.LibJPEGError(err)
			}
		default:
			return nil, false, nil
		}
		return m, true, nil
	}
	return nil, false, nil
}
