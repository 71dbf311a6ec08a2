//go:build !cgo

package imgproc

// haveTurbo reports whether JPEG goes through libjpeg-turbo.
const haveTurbo = false

// jpegDecoder is absent in pure-Go builds: JPEG goes through image/jpeg.
type jpegDecoder struct{ cmyk []uint8 }

func newJPEGDecoder() *jpegDecoder { return nil }

func (d *jpegDecoder) close() {}

func (d *jpegDecoder) decode(data []byte, dst *RGB, info *Info, minSide, maxPixels int) (bool, error) {
	return false, nil
}
