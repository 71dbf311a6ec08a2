package derivative

import (
	"bytes"
	"fmt"
	"image"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/imgproc"
)

// planarImages returns images of every type planar reads, w×h, filled from
// label's noise, each also as a sub-image at an offset (so rows start
// inside Pix and stride exceeds the row).
func planarImages(label string, w, h int) map[string]image.Image {
	r := noise(label)
	rect := image.Rect(0, 0, w+3, h+2)
	sub := image.Rect(2, 1, w+2, h+1)
	gray := image.NewGray(rect)
	r.Read(gray.Pix)
	rgba := image.NewRGBA(rect)
	r.Read(rgba.Pix)
	nrgba := image.NewNRGBA(rect)
	r.Read(nrgba.Pix)
	ycc := image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)
	r.Read(ycc.Y)
	rgb := imgproc.NewRGB(w, h)
	r.Read(rgb.Pix)
	return map[string]image.Image{
		"gray":      gray,
		"gray/sub":  gray.SubImage(sub),
		"rgba":      rgba,
		"rgba/sub":  rgba.SubImage(sub),
		"nrgba/sub": nrgba.SubImage(sub),
		"ycbcr":     ycc,
		"ycbcr/sub": ycc.SubImage(sub),
		"rgb":       rgb,
	}
}

// TestDownscaleNative checks that the C box average gives Go's bytes for
// every planar image type, shrinking and enlarging, on box sizes that do
// and do not divide the source.
func TestDownscaleNative(t *testing.T) {
	kernels := nativeKernels()
	if len(kernels) == 0 {
		t.Skip("no native Downscale in this build (cgo off)")
	}
	for _, avx2 := range kernels {
		t.Run(fmt.Sprint("avx2=", avx2), func(t *testing.T) { testDownscaleNative(t, avx2) })
	}
}

func testDownscaleNative(t *testing.T, avx2 bool) {
	sizes := [][2]int{{1, 1}, {1, 300}, {300, 1}, {7, 5}, {63, 65}, {64, 64}, {127, 129}, {512, 512}, {1001, 667}}
	outs := [][2]int{{Side, Side}, {48, 48}, {16, 16}, {5, 9}, {200, 3}, {1, 1}}
	for _, sz := range sizes {
		for name, img := range planarImages(fmt.Sprint(sz), sz[0], sz[1]) {
			src, stride, step, ok := planar(img)
			if !ok {
				t.Fatalf("%s: not planar", name)
			}
			b := img.Bounds()
			for _, o := range outs {
				want := image.NewGray(image.Rect(0, 0, o[0], o[1]))
				downscaleGo(want, img)
				got := make([]byte, o[0]*o[1])
				if !downscaleKernel(avx2, got, o[0], o[1], src, stride, step, b.Dx(), b.Dy()) {
					t.Fatalf("%s %v→%v: native Downscale did not run", name, sz, o)
				}
				if !bytes.Equal(got, want.Pix) {
					t.Errorf("%s %v→%v: native and Go differ", name, sz, o)
				}
				if d := Downscale(img, o[0], o[1]); !bytes.Equal(d.Pix, want.Pix) {
					t.Errorf("%s %v→%v: Downscale differs from the Go code", name, sz, o)
				}
			}
		}
	}
}

// TestDownscaleShortPix checks that an image whose Pix is shorter than its
// bounds say never reaches the C code (which would read past it): Downscale
// takes the Go path, which panics on the index as any image.Image method
// would.
func TestDownscaleShortPix(t *testing.T) {
	m := image.NewGray(image.Rect(0, 0, 100, 100))
	m.Pix = m.Pix[: 50*100 : 50*100]
	defer func() {
		if recover() == nil {
			t.Error("Downscale of a Gray with half its Pix did not fail")
		}
	}()
	Downscale(m, Side, Side)
}

// BenchmarkDownscaleGo is the Go box average, for comparison with
// BenchmarkDownscale (native where cgo is on).
func BenchmarkDownscaleGo(b *testing.B) {
	for _, name := range []string{"rgb", "ycbcr"} {
		img := benchImages()[name]
		b.Run(name, func(b *testing.B) {
			out := image.NewGray(image.Rect(0, 0, Side, Side))
			for b.Loop() {
				downscaleGo(out, img)
			}
		})
	}
}

func TestDownscaleEmpty(t *testing.T) {
	for _, img := range []image.Image{image.NewGray(image.Rect(0, 0, 0, 0)), image.NewRGBA(image.Rect(3, 3, 3, 9)), image.NewYCbCr(image.Rect(0, 0, 5, 0), image.YCbCrSubsampleRatio420)} {
		g := Downscale(img, 4, 4)
		if g.Rect != image.Rect(0, 0, 4, 4) || !bytes.Equal(g.Pix, make([]byte, 16)) {
			t.Errorf("Downscale of an empty %T: %v %v, want a black 4×4", img, g.Rect, g.Pix)
		}
	}
}
