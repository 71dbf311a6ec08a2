//go:build cgo

package imgproc

import (
	"errors"
	"fmt"

	"github.com/vouchsafe/vouchsafe/internal/jpeg"
)

// haveTurbo reports whether JPEG goes through libjpeg-turbo.
const haveTurbo = true

// jpegDecoder decodes JPEG through internal/jpeg with libjpeg's defaults
// (accurate integer IDCT, fancy upsampling), which Pillow's libjpeg-turbo
// also uses, so full-size output matches Pillow's pixels. Each call runs on
// a fresh libjpeg decompressor, so a corrupt file cannot affect the next
// one; all it keeps between calls is a Go scratch buffer.
type jpegDecoder struct {
	cmyk []uint8 // scratch for CMYK JPEGs
}

func newJPEGDecoder() *jpegDecoder { return &jpegDecoder{} }

// LibJPEGError turns an error of internal/jpeg into libjpeg's message; a
// premature end of data wraps ErrTruncated. Other errors are returned as
// they are. The NeuralHash and PDQ decoders share it so that both report
// truncation alike.
func LibJPEGError(err error) error {
	var je *jpeg.Error
	switch {
	case errors.As(err, &je) && errors.Is(err, jpeg.ErrTruncated):
		return fmt.Errorf("%w: %s", ErrTruncated, je.Msg)
	case errors.As(err, &je):
		return errors.New(je.Msg)
	}
	return err
}

// jpegError is LibJPEGError as a *FormatError.
func jpegError(err error) error {
	return &FormatError{Format: "jpeg", Err: LibJPEGError(err)}
}

// decode decodes data into dst. libjpeg's warnings (corrupt data it can go
// on from) are not fatal, as in Pillow, except a premature end of data:
// Pillow refuses truncated files.
func (d *jpegDecoder) decode(data []byte, dst *RGB, info *Info, minSide, maxPixels int) error {
	hdr, err := jpeg.ReadHeader(data)
	if err != nil {
		return jpegError(err)
	}
	w, h := hdr.Width, hdr.Height
	info.Width, info.Height = w, h
	if int64(w)*int64(h) > int64(maxPixels) {
		return &FormatError{Format: "jpeg", Err: fmt.Errorf("%w: %dx%d pixels", ErrTooLarge, w, h)}
	}
	k, sw, sh := jpegScale(w, h, minSide)
	opts := jpeg.Options{ScaleNum: k, ScaleDenom: 8}
	var out jpeg.Info
	if hdr.ColorSpace == jpeg.CMYK || hdr.ColorSpace == jpeg.YCCK {
		// libjpeg gives the stored CMYK samples; Pillow inverts those of
		// Adobe files ("CMYK;I") and then applies its cmyk2rgb.
		n := 4 * sw * sh
		if cap(d.cmyk) < n {
			d.cmyk = make([]uint8, n)
		}
		buf := d.cmyk[:n]
		opts.Out = jpeg.CMYK
		if out, err = jpeg.Decode(data, opts, buf, 4*sw); err != nil {
			return jpegError(err)
		}
		cmykToRGB(dst, buf, sw, sh, hdr.Adobe)
	} else {
		dst.reshape(sw, sh)
		if out, err = jpeg.Decode(data, opts, dst.Pix, dst.Stride); err != nil {
			return jpegError(err)
		}
	}
	if out.OutWidth != sw || out.OutHeight != sh {
		return &FormatError{Format: "jpeg", Err: fmt.Errorf("libjpeg decoded %dx%d, not the expected %dx%d", out.OutWidth, out.OutHeight, sw, sh)}
	}
	return nil
}
