package eval

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/f64"
	"golang.org/x/image/math/fixed"

	"github.com/vouchsafe/vouchsafe/pdq"
)

// A Transform is a deterministic edit of a photo: it returns the edited
// image encoded (PNG, or JPEG for the JPEG transforms).
type Transform struct {
	Name  string
	Apply func(src image.Image) ([]byte, error)
}

// Transforms returns the edits of the report, in report order: JPEG quality
// 90/75/50/30, downscale to 1/2 and 1/4, centred crops of 2/5/10 %,
// rotations of 2/5/10° about the centre (same canvas, black corners), a
// horizontal flip, greyscale, a Gaussian blur (σ = 0.5 % of the shorter
// side), black borders of 10/20 % on every side, and a text overlay. None
// uses randomness.
func Transforms() []Transform {
	var ts []Transform
	for _, q := range []int{90, 75, 50, 30} {
		ts = append(ts, Transform{fmt.Sprintf("jpeg%d", q), func(src image.Image) ([]byte, error) {
			return encodeJPEG(src, q)
		}})
	}
	for _, d := range []int{2, 4} {
		ts = append(ts, Transform{fmt.Sprintf("scale1/%d", d), func(src image.Image) ([]byte, error) {
			b := src.Bounds()
			dst := image.NewRGBA(image.Rect(0, 0, max(1, b.Dx()/d), max(1, b.Dy()/d)))
			draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
			return encodePNG(dst)
		}})
	}
	for _, p := range []int{2, 5, 10} {
		ts = append(ts, Transform{fmt.Sprintf("crop%d%%", p), func(src image.Image) ([]byte, error) {
			b := src.Bounds()
			dx, dy := b.Dx()*p/200, b.Dy()*p/200 // p % in total, half each side
			r := image.Rect(b.Min.X+dx, b.Min.Y+dy, b.Max.X-dx, b.Max.Y-dy)
			dst := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
			draw.Draw(dst, dst.Bounds(), src, r.Min, draw.Src)
			return encodePNG(dst)
		}})
	}
	for _, deg := range []float64{2, 5, 10} {
		ts = append(ts, Transform{fmt.Sprintf("rotate%g", deg), func(src image.Image) ([]byte, error) {
			return encodePNG(rotate(src, deg))
		}})
	}
	ts = append(ts,
		Transform{"flip", func(src image.Image) ([]byte, error) {
			in := toRGBA(src)
			w, h := in.Rect.Dx(), in.Rect.Dy()
			dst := image.NewRGBA(image.Rect(0, 0, w, h))
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					copy(dst.Pix[y*dst.Stride+4*(w-1-x):][:4], in.Pix[y*in.Stride+4*x:][:4])
				}
			}
			return encodePNG(dst)
		}},
		Transform{"grayscale", func(src image.Image) ([]byte, error) {
			b := src.Bounds()
			dst := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
			draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)
			return encodePNG(dst)
		}},
		Transform{"blur", func(src image.Image) ([]byte, error) {
			b := src.Bounds()
			return encodePNG(gaussianBlur(src, 0.005*float64(min(b.Dx(), b.Dy()))))
		}},
	)
	for _, p := range []int{10, 20} {
		ts = append(ts, Transform{fmt.Sprintf("border%d%%", p), func(src image.Image) ([]byte, error) {
			b := src.Bounds()
			bx, by := b.Dx()*p/100, b.Dy()*p/100
			dst := image.NewRGBA(image.Rect(0, 0, b.Dx()+2*bx, b.Dy()+2*by))
			draw.Draw(dst, dst.Bounds(), image.NewUniform(color.Black), image.Point{}, draw.Src)
			draw.Draw(dst, image.Rect(bx, by, bx+b.Dx(), by+b.Dy()), src, b.Min, draw.Src)
			return encodePNG(dst)
		}})
	}
	ts = append(ts, Transform{"text", func(src image.Image) ([]byte, error) {
		return encodePNG(overlayText(src, "vouchsafe eval 2026"))
	}})
	return ts
}

// toRGBA returns src as an *image.RGBA at the origin (src itself when it
// already is one).
func toRGBA(src image.Image) *image.RGBA {
	if m, ok := src.(*image.RGBA); ok && m.Rect.Min == (image.Point{}) {
		return m
	}
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)
	return dst
}

func encodeJPEG(m image.Image, q int) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func encodePNG(m image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// rotate turns src by deg degrees counter-clockwise about its centre onto a
// canvas of the same size, bilinear, black outside.
func rotate(src image.Image, deg float64) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.Black), image.Point{}, draw.Src)
	th := deg * math.Pi / 180
	c, s := math.Cos(th), math.Sin(th)
	cx, cy := float64(b.Dx())/2, float64(b.Dy())/2
	sx, sy := float64(b.Min.X)+cx, float64(b.Min.Y)+cy
	// dst = R·(src − srcCentre) + dstCentre, with y pointing down.
	m := f64.Aff3{
		c, s, cx - c*sx - s*sy,
		-s, c, cy + s*sx - c*sy,
	}
	draw.BiLinear.Transform(dst, m, src, b, draw.Over, nil)
	return dst
}

// gaussianBlur is a separable Gaussian of standard deviation sigma pixels
// (kernel radius 3σ, edges clamped).
func gaussianBlur(src image.Image, sigma float64) *image.RGBA {
	sigma = max(sigma, 1)
	in := toRGBA(src)
	w, h := in.Rect.Dx(), in.Rect.Dy()
	r := max(1, int(math.Ceil(3*sigma)))
	k := make([]float64, 2*r+1)
	sum := 0.0
	for i := range k {
		x := float64(i - r)
		k[i] = math.Exp(-x * x / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	tmp := make([]float64, 4*w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc [4]float64
			for i, kv := range k {
				xx := min(max(x+i-r, 0), w-1)
				p := in.Pix[y*in.Stride+4*xx:]
				for c := 0; c < 4; c++ {
					acc[c] += kv * float64(p[c])
				}
			}
			copy(tmp[4*(y*w+x):], acc[:])
		}
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc [4]float64
			for i, kv := range k {
				yy := min(max(y+i-r, 0), h-1)
				for c := 0; c < 4; c++ {
					acc[c] += kv * tmp[4*(yy*w+x)+c]
				}
			}
			for c := 0; c < 4; c++ {
				out.Pix[y*out.Stride+4*x+c] = uint8(min(max(math.Round(acc[c]), 0), 255))
			}
		}
	}
	return out
}

// overlayText writes text in white on a black band across the lower part
// of the image, the glyphs scaled to about 1/12 of the image height.
func overlayText(src image.Image, text string) *image.RGBA {
	in := toRGBA(src)
	dst := image.NewRGBA(in.Rect)
	copy(dst.Pix, in.Pix) // never draw on the caller's image
	w, h := dst.Rect.Dx(), dst.Rect.Dy()
	face := basicfont.Face7x13
	tw := font.MeasureString(face, text).Ceil()
	small := image.NewRGBA(image.Rect(0, 0, tw+4, 17))
	draw.Draw(small, small.Bounds(), image.NewUniform(color.Black), image.Point{}, draw.Src)
	d := font.Drawer{Dst: small, Src: image.NewUniform(color.White), Face: face, Dot: fixed.P(2, 13)}
	d.DrawString(text)
	scale := max(1, float64(h)/12/17)
	bw := min(w, int(float64(small.Rect.Dx())*scale))
	bh := int(float64(17) * float64(bw) / float64(small.Rect.Dx()))
	y0 := h * 3 / 4
	draw.NearestNeighbor.Scale(dst, image.Rect((w-bw)/2, y0, (w-bw)/2+bw, min(h, y0+bh)), small, small.Bounds(), draw.Src, nil)
	return dst
}

// Shrink returns p with its image scaled down (Catmull-Rom, aspect kept) so
// that its longer side is at most maxSide, re-encoded losslessly as PNG; a
// photo already small enough is returned as it is. Evaluating camera photos
// at a working resolution keeps the variants cheap to make, and both
// perceptual hashes work on far smaller images anyway (360² and 64²).
func Shrink(p Photo, maxSide int) (Photo, error) {
	if maxSide < 1 {
		return p, fmt.Errorf("eval: max side %d", maxSide)
	}
	// The header alone settles most small photos without a full decode
	// (Run decodes every photo anyway).
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(p.Data)); err == nil && max(cfg.Width, cfg.Height) <= maxSide {
		return p, nil
	}
	img, err := pdq.Decode(p.Data)
	if err != nil {
		return p, fmt.Errorf("%s: %w", p.Name, err)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if max(w, h) <= maxSide {
		return p, nil
	}
	if w >= h {
		w, h = maxSide, max(1, int((int64(h)*int64(maxSide)+int64(w)/2)/int64(w)))
	} else {
		w, h = max(1, int((int64(w)*int64(maxSide)+int64(h)/2)/int64(h))), maxSide
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	data, err := encodePNG(dst)
	if err != nil {
		return p, err
	}
	return Photo{Name: p.Name, Data: data}, nil
}
