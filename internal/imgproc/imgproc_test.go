package imgproc

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// synthetic must match synthetic() in scripts/pillow_golden.py: blocks of
// hashed noise alternating with smooth gradients.
func synthetic(w, h int) *RGB {
	m := NewRGB(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				var v uint64
				if (x/8+y/8)%3 == 0 {
					hs := (uint64(x)*2654435761 + uint64(y)*40503 + uint64(c)*97) & 0xffffffff
					hs ^= hs >> 13
					hs = (hs * 0x5bd1e995) & 0xffffffff
					hs ^= hs >> 15
					v = hs & 255
				} else {
					v = uint64(x*3+y*5+c*60) & 255
				}
				m.Pix[y*m.Stride+3*x+c] = uint8(v)
			}
		}
	}
	return m
}

type goldenRecord struct {
	In            []int   `json:"in"`
	Out           []int   `json:"out"`
	SHA256        string  `json:"sha256"`
	Samples       [][]int `json:"samples"`
	Thumb         string  `json:"thumb"`
	Name          string  `json:"name"`
	Want          string  `json:"want"`
	Format        string  `json:"format"`
	Mode          string  `json:"mode"`
	Size          []int   `json:"size"`
	DecodedSHA256 string  `json:"decoded_sha256"`
	GoExact       bool    `json:"go_exact"`
}

type golden struct {
	Pillow    string         `json:"pillow"`
	Synthetic []goldenRecord `json:"synthetic"`
	Photos    []goldenRecord `json:"photos"`
	Formats   []goldenRecord `json:"formats"`
}

func loadGolden(t testing.TB) *golden {
	t.Helper()
	b, err := os.ReadFile("testdata/pillow_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

func pixSHA(m *RGB) string {
	h := sha256.New()
	for y := 0; y < m.Rect.Dy(); y++ {
		h.Write(m.row(y))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func checkResized(t *testing.T, name string, got *RGB, want goldenRecord) {
	t.Helper()
	if s := pixSHA(got); s != want.SHA256 {
		t.Errorf("%s: resized pixels sha256 %s, Pillow %s", name, s, want.SHA256)
		for _, s := range want.Samples {
			r, g, b := got.RGBAt(s[0], s[1])
			if int(r) != s[2] || int(g) != s[3] || int(b) != s[4] {
				t.Errorf("%s: pixel (%d,%d) = %d,%d,%d, Pillow %d,%d,%d", name, s[0], s[1], r, g, b, s[2], s[3], s[4])
			}
		}
	}
}

// thumbDiff returns the mean absolute difference between the 15×15 block
// means of a 360×360 image and a golden thumb.
func thumbDiff(t *testing.T, m *RGB, thumb string) float64 {
	want, err := hex.DecodeString(thumb)
	if err != nil || len(want) != 15*15*3 {
		t.Fatalf("bad golden thumb")
	}
	sum := 0.0
	for by := 0; by < 15; by++ {
		for bx := 0; bx < 15; bx++ {
			for c := 0; c < 3; c++ {
				s := 0
				for y := by * 24; y < by*24+24; y++ {
					for x := bx * 24; x < bx*24+24; x++ {
						s += int(m.Pix[y*m.Stride+3*x+c])
					}
				}
				mean := math.Floor(float64(s)/576 + 0.5)
				sum += math.Abs(mean - float64(want[(by*15+bx)*3+c]))
			}
		}
	}
	return sum / (15 * 15 * 3)
}

func meanAbsDiff(a, b *RGB) float64 {
	if a.Rect.Size() != b.Rect.Size() {
		return math.Inf(1)
	}
	sum := 0
	for y := 0; y < a.Rect.Dy(); y++ {
		ra, rb := a.row(y), b.row(y)
		for i := range ra {
			d := int(ra[i]) - int(rb[i])
			if d < 0 {
				d = -d
			}
			sum += d
		}
	}
	return float64(sum) / float64(len(a.Pix))
}

func TestPureResizeGoldenSynthetic(t *testing.T) {
	g := loadGolden(t)
	if len(g.Synthetic) < 10 {
		t.Fatalf("only %d synthetic goldens", len(g.Synthetic))
	}
	var rs Resizer
	for _, rec := range g.Synthetic {
		if testing.Short() && rec.In[0]*rec.In[1] > 4e6 {
			continue
		}
		src := synthetic(rec.In[0], rec.In[1])
		dst := NewRGB(rec.Out[0], rec.Out[1])
		if err := rs.Resize(dst, src); err != nil {
			t.Fatal(err)
		}
		checkResized(t, fmt.Sprintf("synthetic %dx%d->%dx%d", rec.In[0], rec.In[1], rec.Out[0], rec.Out[1]), dst, rec)
	}
}

// TestPureResizeReuse checks that a Resizer gives the same result when it
// alternates between geometries (coefficient cache, scratch reuse).
func TestPureResizeReuse(t *testing.T) {
	var rs Resizer
	a, b := synthetic(500, 300), synthetic(123, 777)
	wantA, _ := ResizeBicubic(a, Side, Side)
	wantB, _ := ResizeBicubic(b, Side, Side)
	dst := NewRGB(Side, Side)
	for i := 0; i < 3; i++ {
		rs.Resize(dst, a)
		if !bytes.Equal(dst.Pix, wantA.Pix) {
			t.Fatal("reused Resizer differs on image a")
		}
		rs.Resize(dst, b)
		if !bytes.Equal(dst.Pix, wantB.Pix) {
			t.Fatal("reused Resizer differs on image b")
		}
	}
	if _, err := ResizeBicubic(a, 0, 5); err == nil {
		t.Error("ResizeBicubic to 0x5 did not fail")
	}
	if err := rs.Resize(dst, &RGB{}); err == nil {
		t.Error("resizing an empty image did not fail")
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodePhotosGolden(t *testing.T) {
	g := loadGolden(t)
	if len(g.Photos) == 0 {
		t.Fatal("no photo goldens")
	}
	p := NewPreparer(Options{Exact: true})
	defer p.Close()
	for _, rec := range g.Photos {
		data := readFile(t, filepath.Join("..", "..", "testdata", "photos", rec.Name))
		m, info, err := Decode(data)
		if err != nil {
			t.Errorf("%s: %v", rec.Name, err)
			continue
		}
		if info.Width != rec.Size[0] || info.Height != rec.Size[1] {
			t.Errorf("%s: size %dx%d, Pillow %dx%d", rec.Name, info.Width, info.Height, rec.Size[0], rec.Size[1])
		}
		exact := rec.Format != "JPEG" || haveTurbo
		if s := pixSHA(m); exact && s != rec.DecodedSHA256 {
			t.Errorf("%s: decoded pixels differ from Pillow's", rec.Name)
		}
		small, _, err := p.PrepareRGB(data)
		if err != nil {
			t.Fatal(err)
		}
		if exact {
			checkResized(t, rec.Name, small, rec)
		} else if d := thumbDiff(t, small, rec.Thumb); d > 0.1 {
			t.Errorf("%s: image/jpeg path is %.2f levels from Pillow on average", rec.Name, d)
		} else {
			t.Logf("%s: image/jpeg path, block means %.3f levels from Pillow", rec.Name, d)
		}
	}
}

func decodePNG(t *testing.T, path string) *RGB {
	t.Helper()
	m, err := png.Decode(bytes.NewReader(readFile(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	return ToRGB(m)
}

func TestDecodeFormats(t *testing.T) {
	g := loadGolden(t)
	seen := map[string]bool{}
	for _, rec := range g.Formats {
		data := readFile(t, filepath.Join("testdata", "formats", rec.Name))
		m, info, err := Decode(data)
		if err != nil {
			t.Errorf("%s: %v", rec.Name, err)
			continue
		}
		seen[info.Format] = true
		if !strings.EqualFold(info.Format, rec.Format) {
			t.Errorf("%s: format %q, Pillow %q", rec.Name, info.Format, rec.Format)
		}
		want := decodePNG(t, filepath.Join("testdata", "formats", rec.Want))
		exact := rec.GoExact || (rec.Format == "JPEG" && haveTurbo)
		d := meanAbsDiff(m, want)
		// Without libjpeg-turbo, only image/jpeg's IDCT differs from libjpeg's
		// (jpegYCbCrToRGB upsamples and converts like libjpeg).
		bd := blockDiff(m, want, 8)
		switch {
		case exact && pixSHA(m) != rec.DecodedSHA256:
			t.Errorf("%s (%s): decoded pixels differ from Pillow's, mean abs diff %.3f", rec.Name, rec.Mode, d)
		case !exact && d > 0.25:
			t.Errorf("%s (%s): decoded 8x8 block means %.3f levels from Pillow's on average (pixels %.3f)", rec.Name, rec.Mode, bd, d)
		case !exact:
			t.Logf("%s (%s): approximate decoder, mean abs diff %.3f from Pillow (8x8 block means %.3f)", rec.Name, rec.Mode, d, bd)
		}
		if exact {
			small, err := ResizeBicubic(m, Side, Side)
			if err != nil {
				t.Fatal(err)
			}
			checkResized(t, rec.Name, small, rec)
		}
	}
	for _, f := range []string{"jpeg", "png", "gif", "bmp", "tiff", "webp"} {
		if !seen[f] {
			t.Errorf("no fixture decoded as %s", f)
		}
	}
}

func TestDecodeAutoOrient(t *testing.T) {
	data := readFile(t, "testdata/formats/exif6.jpg")
	d := NewDecoder()
	defer d.Close()
	var plain, turned RGB
	info, err := d.Decode(data, &plain, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Orientation != 6 || info.DecodedWidth != 97 || info.DecodedHeight != 61 {
		t.Fatalf("plain decode: %+v", info)
	}
	info, err = d.Decode(data, &turned, DecodeOptions{AutoOrient: true})
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 97 || info.Height != 61 || info.DecodedWidth != 61 || info.DecodedHeight != 97 {
		t.Fatalf("oriented decode: %+v", info)
	}
	// Orientation 6: rotate 90° clockwise, so the top-left of the result is
	// the bottom-left of the stored image.
	h := plain.Rect.Dy()
	for y := 0; y < turned.Rect.Dy(); y++ {
		for x := 0; x < turned.Rect.Dx(); x++ {
			r1, g1, b1 := turned.RGBAt(x, y)
			r2, g2, b2 := plain.RGBAt(y, h-1-x)
			if r1 != r2 || g1 != g2 || b1 != b2 {
				t.Fatalf("pixel (%d,%d) of the oriented image is not stored pixel (%d,%d)", x, y, y, h-1-x)
			}
		}
	}
	// Each orientation composed with its inverse is the identity.
	inv := [9]int{0, 1, 2, 3, 4, 5, 8, 7, 6}
	src := synthetic(13, 7)
	for o := 1; o <= 8; o++ {
		var a, b RGB
		orient(&a, src, o)
		orient(&b, &a, inv[o])
		if !bytes.Equal(b.Pix, src.Pix) || b.Rect != src.Rect {
			t.Errorf("orientation %d then %d is not the identity", o, inv[o])
		}
	}
}

func TestDecodeBadInputs(t *testing.T) {
	p := NewPreparer(Options{})
	defer p.Close()
	dst := make([]float32, TensorLen)
	bad := map[string][]byte{
		"empty":      nil,
		"text":       []byte("hello, this is not an image"),
		"jpeg magic": {0xff, 0xd8, 0xff},
		"png magic":  []byte("\x89PNG\r\n\x1a\n"),
		"gif magic":  []byte("GIF89a"),
		"bmp magic":  []byte("BM"),
		"tiff magic": []byte("II*\x00"),
		"riff webp":  []byte("RIFF\x00\x00\x00\x00WEBP"),
	}
	entries, err := os.ReadDir("testdata/formats")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "want_") {
			continue
		}
		data := readFile(t, filepath.Join("testdata", "formats", e.Name()))
		bad["truncated "+e.Name()] = data[:len(data)/2]
		bad["header of "+e.Name()] = data[:min(len(data), 40)]
	}
	for name, data := range bad {
		if _, err := p.Prepare(data, dst); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "imgproc: ") {
			t.Errorf("%s: error %q does not name the package", name, err)
		}
	}
	if _, err := p.Prepare(nil, dst); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty input: %v, want ErrEmpty", err)
	}
	if _, err := p.Prepare([]byte("nope"), dst); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("text input: %v, want ErrUnknownFormat", err)
	}
	png := readFile(t, "testdata/formats/rgb.png")
	small := NewPreparer(Options{MaxPixels: 1000})
	defer small.Close()
	if _, err := small.Prepare(png, dst); !errors.Is(err, ErrTooLarge) {
		t.Errorf("97x61 image with MaxPixels 1000: %v, want ErrTooLarge", err)
	}
	if _, err := p.Prepare(png, dst[:10]); err == nil {
		t.Error("short tensor buffer: no error")
	}
}

func TestPrepareTensor(t *testing.T) {
	data := readFile(t, "../../testdata/photos/chelsea.png")
	p := NewPreparer(Options{Exact: true})
	defer p.Close()
	dst := make([]float32, TensorLen)
	info, err := p.Prepare(data, dst)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "png" || info.Width != 451 || info.Height != 300 {
		t.Errorf("info %+v", info)
	}
	m, _, err := p.PrepareRGB(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range []image.Point{{0, 0}, {359, 0}, {17, 300}, {359, 359}} {
		r, g, b := m.RGBAt(pt.X, pt.Y)
		i := pt.Y*Side + pt.X
		for c, v := range []uint8{r, g, b} {
			want := float32(v)/255*2 - 1
			if got := dst[c*Side*Side+i]; got != want {
				t.Errorf("channel %d at %v: %v, want %v", c, pt, got, want)
			}
		}
	}
	if unitScale[0] != -1 || unitScale[255] != 1 {
		t.Errorf("scale endpoints %v %v", unitScale[0], unitScale[255])
	}
}

// TestFastPathClose measures how far the DCT-scaled fast path moves the
// 360×360 pixels from the exact path, on the sample JPEG photos and on the
// folder named by VOUCHSAFE_BENCH_PHOTOS when set.
func TestFastPathClose(t *testing.T) {
	var files []string
	m, _ := filepath.Glob("../../testdata/photos/*.jpg")
	files = append(files, m...)
	if dir := os.Getenv("VOUCHSAFE_BENCH_PHOTOS"); dir != "" && !testing.Short() {
		m, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no JPEG photos")
	}
	fast, exact := NewPreparer(Options{}), NewPreparer(Options{Exact: true})
	defer fast.Close()
	defer exact.Close()
	for _, f := range files {
		data := readFile(t, f)
		a, info, err := fast.PrepareRGB(data)
		if err != nil {
			t.Fatal(err)
		}
		fa := *a
		fa.Pix = append([]uint8(nil), a.Pix...)
		b, _, err := exact.PrepareRGB(data)
		if err != nil {
			t.Fatal(err)
		}
		d := meanAbsDiff(&fa, b)
		t.Logf("%s: %dx%d decoded at %dx%d, fast vs exact mean abs diff %.3f levels",
			filepath.Base(f), info.Width, info.Height, info.DecodedWidth, info.DecodedHeight, d)
		if d > 4 {
			t.Errorf("%s: fast path %.3f levels from exact", f, d)
		}
	}
}

// blockDiff returns the mean absolute difference of the n×n block means of
// two images of the same size.
func blockDiff(a, b *RGB, n int) float64 {
	if a.Rect.Size() != b.Rect.Size() {
		return math.Inf(1)
	}
	w, h := a.Rect.Dx(), a.Rect.Dy()
	sum, cnt := 0.0, 0
	for by := 0; by+n <= h; by += n {
		for bx := 0; bx+n <= w; bx += n {
			for c := 0; c < 3; c++ {
				d := 0
				for y := by; y < by+n; y++ {
					for x := bx; x < bx+n; x++ {
						i := y*a.Stride + 3*x + c
						d += int(a.Pix[i]) - int(b.Pix[y*b.Stride+3*x+c])
					}
				}
				sum += math.Abs(float64(d) / float64(n*n))
				cnt++
			}
		}
	}
	return sum / float64(cnt)
}

// TestPrepareNoAllocs checks that the hot path reuses its buffers: after a
// first call, preparing a JPEG through libjpeg-turbo allocates nothing.
func TestPrepareNoAllocs(t *testing.T) {
	if !haveTurbo {
		t.Skip("image/jpeg allocates per image")
	}
	data := readFile(t, "../../testdata/photos/hubble_deep_field.jpg")
	dst := make([]float32, TensorLen)
	for _, opts := range []Options{{}, {Exact: true}, {AutoOrient: true}} {
		p := NewPreparer(opts)
		if _, err := p.Prepare(data, dst); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(20, func() { p.Prepare(data, dst) }); n != 0 {
			t.Errorf("%+v: %v allocations per Prepare of a JPEG", opts, n)
		}
		p.Close()
	}
}

// TestResizeKernelsAgree checks that the native kernels (C, and AVX2 where
// the CPU has it) give the same bytes as the Go code on random geometries,
// including upscaling, single-pixel sides, padded strides and images whose
// memory ends right after their last pixel.
func TestResizeKernelsAgree(t *testing.T) {
	if len(nativeKernels) == 0 {
		t.Skip("pure-Go build: no native kernels")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	dim := func() int {
		switch rng.IntN(4) {
		case 0:
			return 1 + rng.IntN(8)
		case 1:
			return 1 + rng.IntN(600)
		default:
			return Side/2 + rng.IntN(3*Side)
		}
	}
	ref := Resizer{kernel: kernelGo}
	rs := make([]Resizer, len(nativeKernels))
	for i, k := range nativeKernels {
		rs[i].kernel = k
	}
	for iter := 0; iter < 150; iter++ {
		sw, sh, dw, dh := dim(), dim(), dim(), dim()
		if iter%3 == 0 {
			dw, dh = Side, Side
		}
		pad := rng.IntN(3) * (1 + rng.IntN(7))
		src := &RGB{Stride: 3*sw + pad, Rect: image.Rect(0, 0, sw, sh)}
		src.Pix = make([]uint8, (sh-1)*src.Stride+3*sw) // no slack after the last pixel
		for i := range src.Pix {
			src.Pix[i] = uint8(rng.Uint32())
		}
		if iter%4 == 1 { // saturate often: extremes next to each other
			for i := range src.Pix {
				src.Pix[i] = 255 * uint8(rng.IntN(2))
			}
		}
		want := NewRGB(dw, dh)
		if err := ref.Resize(want, src); err != nil {
			t.Fatal(err)
		}
		for i := range rs {
			got := &RGB{Stride: 3*dw + pad, Rect: image.Rect(0, 0, dw, dh)}
			got.Pix = make([]uint8, (dh-1)*got.Stride+3*dw)
			if err := rs[i].Resize(got, src); err != nil {
				t.Fatal(err)
			}
			for y := 0; y < dh; y++ {
				if !bytes.Equal(got.row(y), want.row(y)) {
					t.Fatalf("kernel %d, %dx%d (stride %d) -> %dx%d: row %d differs from the Go code",
						rs[i].kernel, sw, sh, src.Stride, dw, dh, y)
				}
			}
		}
	}
}
