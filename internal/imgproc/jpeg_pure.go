//go:build !cgo

package imgproc

import "errors"

// haveTurbo reports whether JPEG goes through libjpeg-turbo.
const haveTurbo = false

// jpegDecoder is absent in pure-Go builds: JPEG goes through image/jpeg.
type jpegDecoder struct{ cmyk []uint8 }

// newJPEGDecoder returns nil: Decoder then never calls decode.
func newJPEGDecoder() *jpegDecoder { return nil }

func (d *jpegDecoder) decode(data []byte, dst *RGB, info *Info, minSide, maxPixels int) error {
	return errors.New("imgproc: no libjpeg in a build without cgo")
}
