package imgproc

import (
	"bytes"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/vouchsafe/vouchsafe/internal/cputime"
)

// benchPhotos returns the JPEGs of $VOUCHSAFE_BENCH_PHOTOS (for example
// the camera photos of lomiri-wallpapers-16.04), or skips.
func benchPhotos(b *testing.B) []string {
	dir := os.Getenv("VOUCHSAFE_BENCH_PHOTOS")
	if dir == "" {
		b.Skip("VOUCHSAFE_BENCH_PHOTOS not set")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if len(files) == 0 {
		b.Skipf("no *.jpg in %s", dir)
	}
	sort.Strings(files)
	return files
}

// goPrepare is the pure-Go JPEG path: image/jpeg, then the same resize.
type goPrepare struct {
	img, small RGB
	rs         Resizer
}

func (g *goPrepare) prepare(data []byte) error {
	info := Info{Format: sniff(data)}
	if err := decodeGo(data, &g.img, &info, DefaultMaxPixels); err != nil {
		return err
	}
	g.small.reshape(Side, Side)
	return g.rs.Resize(&g.small, &g.img)
}

func benchModes(b *testing.B, data []byte) {
	tensor := make([]float32, TensorLen)
	for _, mode := range []struct {
		name string
		opts Options
	}{{"fast", Options{}}, {"exact", Options{Exact: true}}} {
		b.Run(mode.name, func(b *testing.B) {
			p := NewPreparer(mode.opts)
			defer p.Close()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := p.Prepare(data, tensor); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if sniff(data) == "jpeg" {
		b.Run("gojpeg", func(b *testing.B) {
			var g goPrepare
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := g.prepare(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPrepareCamera decodes and resizes full-size camera JPEGs:
// fast (DCT-scaled libjpeg-turbo), exact (full decode) and image/jpeg.
func BenchmarkPrepareCamera(b *testing.B) {
	for _, f := range benchPhotos(b) {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Base(f), func(b *testing.B) { benchModes(b, data) })
	}
}

// BenchmarkPrepareSamples runs the hot path on the bundled sample photos.
func BenchmarkPrepareSamples(b *testing.B) {
	for _, name := range []string{"retina.jpg", "rocket.jpg", "astronaut.png", "coffee.png"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "photos", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) { benchModes(b, data) })
	}
}

// BenchmarkPrepareFormats decodes and resizes one 1411×1411 photo stored
// in each format.
func BenchmarkPrepareFormats(b *testing.B) {
	src, _, err := Decode(mustRead(b, filepath.Join("..", "..", "testdata", "photos", "retina.jpg")))
	if err != nil {
		b.Fatal(err)
	}
	enc := map[string]func(*bytes.Buffer) error{
		"jpeg": func(w *bytes.Buffer) error { return jpeg.Encode(w, src, &jpeg.Options{Quality: 90}) },
		"png":  func(w *bytes.Buffer) error { return png.Encode(w, src) },
		"gif":  func(w *bytes.Buffer) error { return gif.Encode(w, src, nil) },
		"bmp":  func(w *bytes.Buffer) error { return bmp.Encode(w, src) },
		"tiff": func(w *bytes.Buffer) error { return tiff.Encode(w, src, nil) },
	}
	for _, f := range []string{"jpeg", "png", "gif", "bmp", "tiff"} {
		var buf bytes.Buffer
		if err := enc[f](&buf); err != nil {
			b.Fatal(err)
		}
		b.Run(f, func(b *testing.B) {
			p := NewPreparer(Options{})
			defer p.Close()
			tensor := make([]float32, TensorLen)
			for b.Loop() {
				if _, err := p.Prepare(buf.Bytes(), tensor); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkResize measures the Pillow-exact resize alone, with each kernel
// of the build: go (the Go code), c (portable C) and avx2.
func BenchmarkResize(b *testing.B) {
	names := map[kernel]string{kernelGo: "go", kernelGeneric: "c", kernelAVX2: "avx2"}
	for _, sz := range [][2]int{{4032, 3024}, {1008, 756}, {504, 378}} {
		src := synthetic(sz[0], sz[1])
		dst := NewRGB(Side, Side)
		b.Run(itoa(sz[0])+"x"+itoa(sz[1]), func(b *testing.B) {
			for _, k := range append([]kernel{kernelGo}, nativeKernels...) {
				b.Run(names[k], func(b *testing.B) {
					rs := Resizer{kernel: k}
					for b.Loop() {
						rs.Resize(dst, src)
					}
				})
			}
		})
	}
}

// BenchmarkToTensor measures the [-1, 1] NCHW conversion.
func BenchmarkToTensor(b *testing.B) {
	m := synthetic(Side, Side)
	dst := make([]float32, TensorLen)
	for b.Loop() {
		ToTensor(dst, m)
	}
}

func mustRead(b *testing.B, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func itoa(n int) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(buf[i:])
		}
	}
}

// BenchmarkDecodeJPEG decodes JPEGs with one Decoder, without resizing:
// the small format fixtures (up to 97×61, where libjpeg's per-call set-up
// dominates), the sample photos at full size and DCT-scaled for Side, and
// the camera JPEGs of $VOUCHSAFE_BENCH_PHOTOS when set.
func BenchmarkDecodeJPEG(b *testing.B) {
	run := func(name string, data []byte, opts DecodeOptions) {
		b.Run(name, func(b *testing.B) {
			d := NewDecoder()
			defer d.Close()
			var m RGB
			b.SetBytes(int64(len(data)))
			t0 := cputime.Process()
			for b.Loop() {
				if _, err := d.Decode(data, &m, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cputime.Process()-t0)/float64(b.N), "cpu-ns/op")
		})
	}
	for _, name := range []string{"q75_420.jpg", "q90_444.jpg", "progressive.jpg", "gray.jpg", "cmyk.jpg"} {
		run(name+"/full", mustRead(b, filepath.Join("testdata", "formats", name)), DecodeOptions{})
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "photos", "*.jpg"))
	if dir := os.Getenv("VOUCHSAFE_BENCH_PHOTOS"); dir != "" {
		camera, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
		files = append(files, camera...)
	}
	for _, f := range files {
		data := mustRead(b, f)
		run(filepath.Base(f)+"/full", data, DecodeOptions{})
		run(filepath.Base(f)+"/scaled", data, DecodeOptions{MinSide: Side})
	}
}
