//go:build !cgo

package imgproc

// haveTurbo reports whether JPEG goes through libjpeg-turbo.
const haveTurbo = false

// turboDecoder is absent in pure-Go builds: JPEG goes through image/jpeg.
type turboDecoder struct{ cmyk []uint8 }

func newTurboDecoder() *turboDecoder { return nil }

func (d *turboDecoder) close() {}

func (d *turboDecoder) decode(data []byte, dst *RGB, info *Info, minSide, maxPixels int) (bool, error) {
	return false, nil
}
