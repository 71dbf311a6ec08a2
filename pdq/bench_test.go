package pdq

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/cputime"
)

// ycbcr returns a w×h 4:2:0 image with a deterministic texture, as a JPEG
// decoder would return it.
func ycbcr(w, h int) *image.YCbCr {
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Y[y*m.YStride+x] = uint8((x*7 + y*13 + (x*y)>>7) & 0xff)
		}
	}
	for i := range m.Cb {
		m.Cb[i] = uint8(i * 3)
		m.Cr[i] = uint8(i * 5)
	}
	return m
}

func benchHash(b *testing.B, w, h int) {
	img := ycbcr(w, h)
	var hs Hasher
	hs.Hash(img)
	b.ReportAllocs()
	b.SetBytes(int64(w * h))
	for b.Loop() {
		if _, _, err := hs.Hash(img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHash512 hashes a decoded 512×512 JPEG (decoding excluded).
func BenchmarkHash512(b *testing.B) { benchHash(b, 512, 512) }

// BenchmarkHash12MP hashes a decoded 4000×3000 JPEG (decoding excluded).
func BenchmarkHash12MP(b *testing.B) { benchHash(b, 4000, 3000) }

// BenchmarkDihedral512 computes the eight dihedral hashes of 512×512.
func BenchmarkDihedral512(b *testing.B) {
	img := ycbcr(512, 512)
	var hs Hasher
	b.ReportAllocs()
	for b.Loop() {
		hs.Dihedral(img)
	}
}

// BenchmarkHashBytes512 decodes and hashes a 512×512 JPEG, for the share of
// decoding in the total.
func BenchmarkHashBytes512(b *testing.B) {
	var buf bytes.Buffer
	jpeg.Encode(&buf, ycbcr(512, 512), &jpeg.Options{Quality: 90})
	var hs Hasher
	b.ReportAllocs()
	b.SetBytes(512 * 512)
	for b.Loop() {
		if _, _, err := hs.HashBytes(buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashBytes12MP decodes and hashes a 4000×3000 JPEG (quality 90):
// what hashing a phone photo costs end to end.
func BenchmarkHashBytes12MP(b *testing.B) {
	var buf bytes.Buffer
	jpeg.Encode(&buf, ycbcr(4000, 3000), &jpeg.Options{Quality: 90})
	var hs Hasher
	b.ReportAllocs()
	b.SetBytes(4000 * 3000)
	for b.Loop() {
		if _, _, err := hs.HashBytes(buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode decodes JPEGs as PDQ does (Meta's libjpeg settings in cgo
// builds): the sample photos and the camera JPEGs of
// $VOUCHSAFE_BENCH_PHOTOS when set.
func BenchmarkDecode(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "photos", "*.jpg"))
	if dir := os.Getenv("VOUCHSAFE_BENCH_PHOTOS"); dir != "" {
		camera, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
		files = append(files, camera...)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Base(f), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			t0 := cputime.Process()
			for b.Loop() {
				if _, err := Decode(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cputime.Process()-t0)/float64(b.N), "cpu-ns/op")
		})
	}
}
