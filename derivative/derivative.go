// Package derivative is the visual derivative codec (protocol.md §1, [A]):
// a small grayscale version of an image, large enough for a second
// perceptual hash (PDQ works on 64×64), compressed with zstd. The client
// puts it in a voucher's associated data; package psi carries it there as
// opaque bytes, and the reconstructor decodes it after a reveal.
//
// Its encoding is
//
//	kind(1) = 0x01 ‖ width(1) ‖ height(1) ‖ bits(1) ‖ zstd frame
//
// where the frame holds width·height bytes: each row's samples, quantised to
// the top `bits` bits, as differences (mod 2^bits) from the sample to their
// left (the first from the sample above). When a derivative does not fit
// the space left in the associated data, the encoder degrades
// deterministically: fewer bits per sample first, then a smaller size.
package derivative

import (
	"errors"
	"fmt"
	"image"
	"image/color"

	"github.com/klauspost/compress/zstd"
)

// Side is the side of a full-size visual derivative.
const Side = 64

const kind = 0x01

// ladder is the deterministic degradation order: (side, bits) pairs.
var ladder = func() [][2]int {
	var l [][2]int
	for _, side := range []int{Side, 48, 32, 16} {
		for bits := 8; bits >= 1; bits-- {
			l = append(l, [2]int{side, bits})
		}
	}
	return l
}()

// Encoder makes visual derivatives. It is safe for concurrent use.
type Encoder struct {
	// levels are tried in order on each rung of the ladder.
	levels []*zstd.Encoder
}

// encoderLevels are the zstd levels Encode tries on each rung, fastest
// first. Every derivative is padded to the same length in a voucher, so a
// smaller frame is worth nothing unless the larger one does not fit: a rung
// is given up only when "best" does not fit it either. Once the pipeline's
// decoding and inference have evicted the encoders' tables from the caches,
// "fastest" takes a third of the time of "better" (22 derivatives, 64×64
// at 8 bits, each compressed after a 16 MiB memory sweep: 30 vs 91 µs,
// 68,964 vs 58,010 bytes); it fits the first rung of the default budget
// for 11 of the 22 photos of testdata/photos and bench/README.md, and
// trying it first halved zstd's share of the one pass (83 vs 160 µs per
// photo in vsbench's profile). "better" is 0.08 % larger than "best" in a
// seventeenth of its time (37 vs 643 µs), and on fine texture near a small
// budget "best" can keep a rung that "better" would give up.
var encoderLevels = []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedBetterCompression, zstd.SpeedBestCompression}

// NewEncoder returns an encoder; Close releases it.
func NewEncoder() (*Encoder, error) {
	// A derivative is at most 64×64 bytes: a small window and the
	// low-memory tables give the same frames as the defaults, faster (the
	// defaults set up megabytes of tables per frame).
	e := &Encoder{}
	for _, level := range encoderLevels {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level),
			zstd.WithWindowSize(1<<13), zstd.WithLowerEncoderMem(true),
			zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("derivative: zstd encoder: %w", err)
		}
		e.levels = append(e.levels, enc)
	}
	return e, nil
}

// Close releases the encoder's resources.
func (e *Encoder) Close() error {
	var errs []error
	for _, z := range e.levels {
		errs = append(errs, z.Close())
	}
	return errors.Join(errs...)
}

var (
	// ErrTooLarge is returned by [Encoder.Encode] when even the smallest
	// derivative does not fit the byte budget.
	ErrTooLarge = errors.New("derivative: visual derivative does not fit the associated data")
	// ErrEmptyImage is returned by [Encoder.Encode] for an image without
	// pixels.
	ErrEmptyImage = errors.New("derivative: empty image")
	// ErrMalformed is wrapped by every error [Decode] returns for bytes that
	// are not a derivative.
	ErrMalformed = errors.New("derivative: malformed visual derivative")
)

// Encode returns the derivative of img in at most max bytes (psi's
// Params.MaxDerivative), degrading deterministically until it fits.
func (e *Encoder) Encode(img image.Image, max int) ([]byte, error) {
	b := img.Bounds()
	if b.Dx() < 1 || b.Dy() < 1 {
		return nil, fmt.Errorf("%w: %v", ErrEmptyImage, b)
	}
	var gray *image.Gray
	side := 0
	for _, step := range ladder {
		if step[0] != side {
			side = step[0]
			gray = Downscale(img, side, side)
		}
		res := residuals(gray, step[1])
		for _, z := range e.levels {
			if out := frame(z, res, gray, step[1]); len(out) <= max {
				return out, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, max)
}

// residuals returns g's samples quantised to bits, each as its difference
// (mod 2^bits) from the sample to its left (the first in a row: from the
// sample above).
func residuals(g *image.Gray, bits int) []byte {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	res := make([]byte, w*h)
	shift := uint(8 - bits)
	mask := byte(1<<bits - 1)
	for y := 0; y < h; y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+w]
		for x := 0; x < w; x++ {
			q := row[x] >> shift
			var pred byte
			switch {
			case x > 0:
				pred = row[x-1] >> shift
			case y > 0:
				pred = g.Pix[(y-1)*g.Stride] >> shift
			}
			res[y*w+x] = (q - pred) & mask
		}
	}
	return res
}

// frame returns the derivative: its header, then res compressed by z.
func frame(z *zstd.Encoder, res []byte, g *image.Gray, bits int) []byte {
	out := []byte{kind, byte(g.Rect.Dx()), byte(g.Rect.Dy()), byte(bits)}
	return z.EncodeAll(res, out)
}

// Decode decodes a derivative made by [Encoder.Encode]. Errors for bytes
// that are not one wrap [ErrMalformed].
func Decode(b []byte) (*image.Gray, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than its header", ErrMalformed, len(b))
	}
	if b[0] != kind {
		return nil, fmt.Errorf("%w: unknown kind %d", ErrMalformed, b[0])
	}
	w, h, bits := int(b[1]), int(b[2]), int(b[3])
	if w < 1 || h < 1 || bits < 1 || bits > 8 {
		return nil, fmt.Errorf("%w: bad size %d×%d or %d bits", ErrMalformed, w, h, bits)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(w*h)+1024),
		zstd.WithDecoderMaxWindow(1<<20))
	if err != nil {
		return nil, fmt.Errorf("derivative: zstd decoder: %w", err)
	}
	defer dec.Close()
	res, err := dec.DecodeAll(b[4:], make([]byte, 0, w*h))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(res) != w*h {
		return nil, fmt.Errorf("%w: %d samples, want %d×%d", ErrMalformed, len(res), w, h)
	}
	g := image.NewGray(image.Rect(0, 0, w, h))
	mask := byte(1<<bits - 1)
	levels := 1<<bits - 1
	// res becomes the quantised samples in place: each prediction reads
	// only samples already undone.
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var pred byte
			switch {
			case x > 0:
				pred = res[y*w+x-1]
			case y > 0:
				pred = res[(y-1)*w]
			}
			v := (res[y*w+x] + pred) & mask
			res[y*w+x] = v
			g.Pix[y*g.Stride+x] = byte((int(v)*255 + levels/2) / levels)
		}
	}
	return g, nil
}

// Downscale returns a w×h grayscale version of img, each output pixel the
// BT.601 luma (0.299 R + 0.587 G + 0.114 B, rounded) of the average colour of
// the source pixels it covers (the nearest one when enlarging). An image
// without pixels gives a black one.
func Downscale(img image.Image, w, h int) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, w, h))
	if w < 1 || h < 1 || b.Empty() {
		return out
	}
	if src, stride, step, ok := planar(img); ok && downscaleNative(out.Pix, w, h, src, stride, step, b.Dx(), b.Dy()) {
		return out
	}
	downscaleGo(out, img)
	return out
}

// planar returns img's samples when its rows lie in memory: row y (counted
// from the top) is src[y*stride:], step bytes per pixel, luma when step is
// 1, else R, G, B first.
func planar(img image.Image) (src []byte, stride, step int, ok bool) {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.YCbCr:
		return m.Y[m.YOffset(b.Min.X, b.Min.Y):], m.YStride, 1, true
	case *image.Gray:
		return m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, 1, true
	case *image.RGBA:
		return m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, 4, true
	case *image.NRGBA:
		// Alpha is ignored, as an opaque photo has none to speak of.
		return m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, 4, true
	case rgbImage:
		pix, stride := m.RGBPix()
		return pix, stride, 3, true
	}
	return nil, 0, 0, false
}

// downscaleGo is Downscale in Go, for every image type and for builds
// without cgo; downscaleNative gives the same bytes faster.
func downscaleGo(out *image.Gray, img image.Image) {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	w, h := out.Rect.Dx(), out.Rect.Dy()
	x0s, x1s := make([]int, w), make([]int, w)
	for ox := range w {
		x0s[ox], x1s[ox] = ox*sw/w, (ox+1)*sw/w
		if x1s[ox] <= x0s[ox] {
			x1s[ox] = x0s[ox] + 1
		}
	}
	// sums[ox] is 1000 × the luma summed over the box: colour channels are
	// summed separately and weighted once per box, so the work per source
	// pixel is a few additions, on rows read in place.
	row := rows(img)
	sums := make([]uint64, w)
	for oy := 0; oy < h; oy++ {
		y0, y1 := oy*sh/h, (oy+1)*sh/h
		if y1 <= y0 {
			y1 = y0 + 1
		}
		clear(sums)
		for y := y0; y < y1; y++ {
			pix, step := row(y)
			for ox, x0 := range x0s {
				p := pix[step*x0 : step*x1s[ox]]
				if step == 1 {
					var s uint64
					for _, v := range p {
						s += uint64(v)
					}
					sums[ox] += 1000 * s
					continue
				}
				var r, g, bl uint64
				for i := 0; i+2 < len(p); i += step {
					r += uint64(p[i])
					g += uint64(p[i+1])
					bl += uint64(p[i+2])
				}
				sums[ox] += 299*r + 587*g + 114*bl
			}
		}
		for ox, s := range sums {
			n := uint64((x1s[ox] - x0s[ox]) * (y1 - y0))
			out.Pix[oy*out.Stride+ox] = byte((s + 500*n) / (1000 * n))
		}
	}
}

// rgbImage is an opaque image of packed 8-bit RGB rows (the engine's
// decoded images, internal/imgproc.RGB).
type rgbImage interface {
	// RGBPix returns the samples from the image's top-left pixel on, three
	// bytes per pixel, rows stride bytes apart.
	RGBPix() (pix []uint8, stride int)
}

// rows returns a function that gives img's row y (counted from the top) as
// bytes with step bytes per pixel: luma when step is 1, else R, G, B first.
// A row is valid until the next call. Images whose rows lie in memory
// (planar) are read in place.
func rows(img image.Image) func(y int) (pix []byte, step int) {
	b := img.Bounds()
	w := b.Dx()
	if src, stride, step, ok := planar(img); ok {
		return func(y int) ([]byte, int) {
			return src[y*stride : y*stride+step*w], step
		}
	}
	buf := make([]byte, 3*w)
	return func(y int) ([]byte, int) {
		for x := range w {
			c := color.RGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.RGBA)
			buf[3*x], buf[3*x+1], buf[3*x+2] = c.R, c.G, c.B
		}
		return buf, 3
	}
}
