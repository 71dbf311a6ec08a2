// Package imgproc decodes images to 8-bit RGB and resamples them exactly as
// the public NeuralHash reference does with Pillow:
//
//	Image.open(path).convert('RGB').resize([360, 360])  # BICUBIC
//
// then scales the pixels to [-1, 1] in NCHW float32 order. JPEG goes through
// libjpeg-turbo when cgo is available (with optional DCT-domain downscaling,
// the fast path); other formats, and JPEG in a pure-Go build, go through Go
// decoders. The resize runs in C in cgo builds and in Go otherwise, with the
// same output.
package imgproc

import (
	"image"
	"image/color"
)

// RGB is an in-memory image of 8-bit red, green, blue samples, three bytes
// per pixel, without alpha. It implements image.Image.
type RGB struct {
	// Pix holds the samples in R, G, B order; the pixel at (x, y) starts at
	// Pix[(y-Rect.Min.Y)*Stride + (x-Rect.Min.X)*3].
	Pix []uint8
	// Stride is the distance in bytes between vertically adjacent pixels.
	Stride int
	// Rect is the image's bounds.
	Rect image.Rectangle
}

// NewRGB returns a w×h RGB image.
func NewRGB(w, h int) *RGB {
	return &RGB{Pix: make([]uint8, 3*w*h), Stride: 3 * w, Rect: image.Rect(0, 0, w, h)}
}

// reshape makes m a w×h image at the origin, reusing its memory when large
// enough.
func (m *RGB) reshape(w, h int) {
	n := 3 * w * h
	if cap(m.Pix) < n {
		m.Pix = make([]uint8, n)
	}
	m.Pix = m.Pix[:n]
	m.Stride = 3 * w
	m.Rect = image.Rect(0, 0, w, h)
}

// row returns the samples of row y counted from the top of m.
func (m *RGB) row(y int) []uint8 {
	i := y * m.Stride
	return m.Pix[i : i+3*m.Rect.Dx()]
}

// ColorModel returns color.RGBAModel: every pixel is opaque.
func (m *RGB) ColorModel() color.Model { return color.RGBAModel }

// Bounds returns the image's bounds.
func (m *RGB) Bounds() image.Rectangle { return m.Rect }

// At returns the color of the pixel at (x, y) as an opaque color.RGBA.
func (m *RGB) At(x, y int) color.Color {
	if !(image.Point{x, y}.In(m.Rect)) {
		return color.RGBA{}
	}
	i := (y-m.Rect.Min.Y)*m.Stride + (x-m.Rect.Min.X)*3
	return color.RGBA{m.Pix[i], m.Pix[i+1], m.Pix[i+2], 0xff}
}

// RGBPix returns m's samples from the pixel at Rect.Min on, three bytes per
// pixel, rows stride bytes apart: a way to read m without a call per pixel
// (package derivative uses it).
func (m *RGB) RGBPix() (pix []uint8, stride int) { return m.Pix, m.Stride }

// RGBAt returns the samples of the pixel at (x, y).
func (m *RGB) RGBAt(x, y int) (r, g, b uint8) {
	if !(image.Point{x, y}.In(m.Rect)) {
		return 0, 0, 0
	}
	i := (y-m.Rect.Min.Y)*m.Stride + (x-m.Rect.Min.X)*3
	return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
}
