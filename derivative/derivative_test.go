package derivative

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/imgproc"
)

// maxDefault is psi.DefaultParams.MaxDerivative(): AD_LEN 4096 less the
// 2-byte length and the 12-byte hash.
const maxDefault = 4082

// noise is a deterministic random stream (ChaCha8 keyed by SHA-256(label)).
func noise(label string) *rand.ChaCha8 {
	return rand.NewChaCha8(sha256.Sum256([]byte(label)))
}

func newEncoder(t testing.TB) *Encoder {
	t.Helper()
	enc, err := NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close() })
	return enc
}

func TestDerivative(t *testing.T) {
	enc := newEncoder(t)
	// A smooth 200×150 image: full quality fits 4 KB.
	img := gradient()
	d, err := enc.Encode(img, maxDefault)
	if err != nil {
		t.Fatal(err)
	}
	if d[1] != Side || d[2] != Side || d[3] != 8 {
		t.Fatalf("smooth image: %d×%d at %d bits", d[1], d[2], d[3])
	}
	g, err := Decode(d)
	if err != nil {
		t.Fatal(err)
	}
	want := Downscale(img, Side, Side)
	if !bytes.Equal(g.Pix, want.Pix) {
		t.Fatal("8-bit derivative is not lossless")
	}
	// Noise does not compress: the encoder degrades until it fits.
	nz := image.NewGray(image.Rect(0, 0, 64, 64))
	noise("noise").Read(nz.Pix)
	d, err = enc.Encode(nz, 1500)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) > 1500 || d[3] == 8 {
		t.Fatalf("noise: %d bytes at %d bits", len(d), d[3])
	}
	g, err = Decode(d)
	if err != nil {
		t.Fatal(err)
	}
	step := 256 >> d[3]
	for i := range g.Pix {
		if diff := int(g.Pix[i]) - int(nz.Pix[i]); diff > step || diff < -step {
			t.Fatalf("sample %d: %d vs %d at %d bits", i, g.Pix[i], nz.Pix[i], d[3])
		}
	}
	// Deterministic.
	d2, _ := enc.Encode(nz, 1500)
	if !bytes.Equal(d, d2) {
		t.Fatal("derivative not deterministic")
	}
	if _, err := enc.Encode(nz, 8); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("tiny budget: %v", err)
	}
	if _, err := enc.Encode(image.NewGray(image.Rect(3, 3, 3, 9)), maxDefault); !errors.Is(err, ErrEmptyImage) {
		t.Fatalf("empty image: %v", err)
	}
	for _, bad := range [][]byte{nil, {1, 64, 64}, {2, 64, 64, 8}, {1, 0, 64, 8}, {1, 64, 0, 8}, {1, 64, 64, 0}, {1, 64, 64, 9}, {1, 64, 64, 8, 1, 2, 3}, d[:len(d)-1]} {
		if _, err := Decode(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("derivative %x: %v, want ErrMalformed", bad, err)
		}
	}
	// A valid frame of the wrong sample count.
	short, _ := enc.Encode(image.NewGray(image.Rect(0, 0, 64, 64)), maxDefault)
	short[1] = 63
	if _, err := Decode(short); !errors.Is(err, ErrMalformed) {
		t.Errorf("63×64 header on 64×64 samples: %v", err)
	}
}

// atOnly hides every method but image.Image's.
type atOnly struct{ image.Image }

// Reading the engine's RGB in place (planar, in C where cgo is on) gives the
// bytes of the generic path through At.
func TestRGBFastPath(t *testing.T) {
	enc := newEncoder(t)
	for _, name := range []string{"coffee.png", "rocket.jpg"} {
		b, err := os.ReadFile("../testdata/photos/" + name)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := imgproc.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, max := range []int{maxDefault, 300} {
			fast, err1 := enc.Encode(m, max)
			slow, err2 := enc.Encode(atOnly{m}, max)
			if err1 != nil || err2 != nil || !bytes.Equal(fast, slow) {
				t.Errorf("%s, %d bytes: fast path %d bytes (%v), generic %d bytes (%v)", name, max, len(fast), err1, len(slow), err2)
			}
		}
	}
}

func FuzzDecode(f *testing.F) {
	enc := newEncoder(f)
	g := image.NewGray(image.Rect(0, 0, 80, 70))
	noise("noise-image").Read(g.Pix)
	d, _ := enc.Encode(Downscale(g, Side, Side), 4000)
	f.Add(d)
	f.Add([]byte{1, 64, 64, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if g.Rect.Dx() != int(b[1]) || g.Rect.Dy() != int(b[2]) {
			t.Fatal("size")
		}
	})
}

// benchImages are what the encoder is given in practice: the engine's
// decoded RGB at a camera photo's fast-path scale (10 MP at 1/4), and a Go
// decoder's YCbCr.
func benchImages() map[string]image.Image {
	rgb := imgproc.NewRGB(1008, 672)
	noise("bench/rgb").Read(rgb.Pix)
	ycc := image.NewYCbCr(image.Rect(0, 0, 1008, 672), image.YCbCrSubsampleRatio420)
	noise("bench/y").Read(ycc.Y)
	return map[string]image.Image{"rgb": rgb, "ycbcr": ycc}
}

func BenchmarkEncode(b *testing.B) {
	enc := newEncoder(b)
	for _, name := range []string{"rgb", "ycbcr"} {
		img := benchImages()[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc.Encode(img, maxDefault); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDownscale(b *testing.B) {
	for _, name := range []string{"rgb", "ycbcr"} {
		img := benchImages()[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Downscale(img, Side, Side)
			}
		})
	}
}

// downscaleReference is Downscale as first written (and as it stayed until
// colour was averaged before taking luma): every source pixel's luma rounded,
// then averaged over the box.
func downscaleReference(img image.Image, w, h int) *image.Gray {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	for oy := range h {
		y0, y1 := oy*sh/h, (oy+1)*sh/h
		y1 = max(y1, y0+1)
		for ox := range w {
			x0, x1 := ox*sw/w, (ox+1)*sw/w
			x1 = max(x1, x0+1)
			var sum, n int
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					c := color.RGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.RGBA)
					if m, ok := img.(*image.NRGBA); ok {
						// Its alpha is ignored, not applied.
						n := m.NRGBAAt(b.Min.X+x, b.Min.Y+y)
						c = color.RGBA{n.R, n.G, n.B, 255}
					}
					l := lumaOf(c.R, c.G, c.B)
					if m, ok := img.(*image.YCbCr); ok {
						l = m.Y[m.YOffset(b.Min.X+x, b.Min.Y+y)] // Y is the luma
					}
					sum += int(l)
					n++
				}
			}
			out.Pix[oy*out.Stride+ox] = byte((sum + n/2) / n)
		}
	}
	return out
}

// Downscale takes the luma of each box's average colour: within one level of
// averaging each pixel's rounded luma (the per-pixel roundings average to at
// most half a level), and the same for images that hold luma.
func TestDownscaleReference(t *testing.T) {
	for _, c := range katCases(t) {
		for _, side := range []int{Side, 48, 16} {
			got, want := Downscale(c.img, side, side), downscaleReference(c.img, side, side)
			_, isGray := c.img.(*image.Gray)
			_, isYCC := c.img.(*image.YCbCr)
			worst, differ := 0, 0
			for i := range got.Pix {
				d := int(got.Pix[i]) - int(want.Pix[i])
				if d != 0 {
					differ++
				}
				worst = max(worst, d, -d)
			}
			if worst > 1 || (isGray || isYCC) && worst != 0 {
				t.Errorf("%s at %d: %d pixels differ from the reference, by up to %d", c.name, side, differ, worst)
			}
		}
	}
}

func lumaOf(r, g, b uint8) uint8 {
	return uint8((299*int(r) + 587*int(g) + 114*int(b) + 500) / 1000)
}

// Trying zstd's faster levels first never costs a rung: Encode stops at the
// rung that "best" alone would reach, or an earlier one.
func TestRungNoWorseThanBest(t *testing.T) {
	enc := newEncoder(t)
	rung := func(side, bits int) int {
		for i, s := range ladder {
			if s == [2]int{side, bits} {
				return i
			}
		}
		t.Fatalf("no rung %d×%d, %d bits", side, side, bits)
		return -1
	}
	for _, c := range katCases(t) {
		for _, max := range []int{maxDefault, 1500, 700, 300, 120} {
			bestOnly := -1
			side := 0
			var g *image.Gray
			for i, s := range ladder {
				if s[0] != side {
					side = s[0]
					g = Downscale(c.img, side, side)
				}
				if len(frame(enc.levels[len(enc.levels)-1], residuals(g, s[1]), g, s[1])) <= max {
					bestOnly = i
					break
				}
			}
			d, err := enc.Encode(c.img, max)
			if bestOnly < 0 {
				if !errors.Is(err, ErrTooLarge) {
					t.Errorf("%s in %d bytes: %v, want ErrTooLarge", c.name, max, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s in %d bytes: %v", c.name, max, err)
				continue
			}
			if got := rung(int(d[1]), int(d[3])); got > bestOnly || len(d) > max {
				t.Errorf("%s in %d bytes: rung %d (%d bytes), best alone reaches rung %d", c.name, max, got, len(d), bestOnly)
			}
		}
	}
}
