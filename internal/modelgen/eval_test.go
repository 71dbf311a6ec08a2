package modelgen

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/png"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// evalPhotos returns the photos for the seed-design evaluation: the files in
// $VOUCHSAFE_EVAL_PHOTOS (a list of directories separated by ':'), else
// ../../testdata/photos. It skips the test when there are none.
func evalPhotos(t testing.TB) []string {
	dirs := os.Getenv("VOUCHSAFE_EVAL_PHOTOS")
	if dirs == "" {
		dirs = filepath.Join("..", "..", "testdata", "photos")
	}
	var files []string
	for _, d := range strings.Split(dirs, ":") {
		for _, pat := range []string{"*.jpg", "*.jpeg", "*.png"} {
			m, _ := filepath.Glob(filepath.Join(d, pat))
			files = append(files, m...)
		}
	}
	sort.Strings(files)
	if len(files) < 4 {
		t.Skipf("need at least 4 photos in %s (set VOUCHSAFE_EVAL_PHOTOS)", dirs)
	}
	return files
}

// resizeRGB resizes img to w×h with a separable triangle (bilinear) filter whose
// support widens when downscaling, and returns float64 RGB planes in [0,255].
func resizeRGB(img image.Image, w, h int) [3][]float64 {
	bnd := img.Bounds()
	sw, sh := bnd.Dx(), bnd.Dy()
	src := [3][]float64{make([]float64, sw*sh), make([]float64, sw*sh), make([]float64, sw*sh)}
	for y := range sh {
		for x := range sw {
			r, g, b, _ := img.At(bnd.Min.X+x, bnd.Min.Y+y).RGBA()
			src[0][y*sw+x], src[1][y*sw+x], src[2][y*sw+x] = float64(r>>8), float64(g>>8), float64(b>>8)
		}
	}
	type tap struct {
		i int
		w float64
	}
	weights := func(in, out int) [][]tap {
		scale := float64(in) / float64(out)
		support := math.Max(scale, 1)
		res := make([][]tap, out)
		for o := range out {
			c := (float64(o)+0.5)*scale - 0.5
			var taps []tap
			sum := 0.0
			for i := int(math.Floor(c - support)); i <= int(math.Ceil(c+support)); i++ {
				wt := 1 - math.Abs(float64(i)-c)/support
				if wt <= 0 {
					continue
				}
				taps = append(taps, tap{min(max(i, 0), in-1), wt})
				sum += wt
			}
			for k := range taps {
				taps[k].w /= sum
			}
			res[o] = taps
		}
		return res
	}
	wx, wy := weights(sw, w), weights(sh, h)
	var out [3][]float64
	for c := range 3 {
		tmp := make([]float64, w*sh)
		for y := range sh {
			for x := range w {
				s := 0.0
				for _, t := range wx[x] {
					s += t.w * src[c][y*sw+t.i]
				}
				tmp[y*w+x] = s
			}
		}
		out[c] = make([]float64, w*h)
		for y := range h {
			for x := range w {
				s := 0.0
				for _, t := range wy[y] {
					s += t.w * tmp[t.i*w+x]
				}
				out[c][y*w+x] = s
			}
		}
	}
	return out
}

func toImage(p [3][]float64, w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		for c := range 3 {
			m.Pix[4*i+c] = uint8(min(max(math.Round(p[c][i]), 0), 255))
		}
		m.Pix[4*i+3] = 255
	}
	return m
}

// modelInput converts an image to the model's [3,360,360] input in [-1,1].
func modelInput(img image.Image) []float32 {
	p := resizeRGB(img, Size, Size)
	in := make([]float32, 3*Size*Size)
	for c := range 3 {
		for i, v := range p[c] {
			in[c*Size*Size+i] = float32(math.Round(min(max(v, 0), 255))/127.5 - 1)
		}
	}
	return in
}

func reencode(t testing.TB, img image.Image, scale float64, quality int) image.Image {
	w := max(int(math.Round(float64(img.Bounds().Dx())*scale)), 1)
	h := max(int(math.Round(float64(img.Bounds().Dy())*scale)), 1)
	small := toImage(resizeRGB(img, w, h), w, h)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, small, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	out, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func hamming(a, b []byte) int {
	n := 0
	for i := range a {
		n += bits.OnesCount8(a[i] ^ b[i])
	}
	return n
}

type dist []int

func (d dist) String() string {
	s := append([]int(nil), d...)
	sort.Ints(s)
	sum := 0
	for _, v := range s {
		sum += v
	}
	q := func(p float64) int { return s[int(p*float64(len(s)-1))] }
	ss := 0.0
	for _, v := range s {
		ss += (float64(v) - float64(sum)/float64(len(s))) * (float64(v) - float64(sum)/float64(len(s)))
	}
	return fmt.Sprintf("sd %5.2f  mean %5.2f  min %2d  p10 %2d  median %2d  p90 %2d  max %2d  (n=%d)",
		math.Sqrt(ss/float64(len(s))), float64(sum)/float64(len(s)), s[0], q(0.1), q(0.5), q(0.9), s[len(s)-1], len(s))
}

// TestSeedDesignEvaluation compares candidate seed matrices for the default
// model on real photos: bits moved by a half-size JPEG-75 re-encode (and a
// full-size JPEG-50 re-encode) against bits between distinct photos. It checks
// the chosen seed meets the design targets and logs every candidate.
func TestSeedDesignEvaluation(t *testing.T) {
	files := evalPhotos(t)
	type sample struct{ orig, half75, q50, hard []float32 }
	var samples []sample
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(fh)
		fh.Close()
		if err != nil {
			t.Logf("skipping %s: %v", f, err)
			continue
		}
		samples = append(samples, sample{
			orig:   DefaultEmbedding(modelInput(img)),
			half75: DefaultEmbedding(modelInput(reencode(t, img, 0.5, 75))),
			q50:    DefaultEmbedding(modelInput(reencode(t, img, 1, 50))),
			hard:   DefaultEmbedding(modelInput(reencode(t, reencode(t, img, 0.25, 40), 1, 30))),
		})
	}
	measure := func(m []float32) (robust, robust50, hard, distinct dist) {
		hashes := make([][]byte, len(samples))
		for i, s := range samples {
			hashes[i] = Hash(m, s.orig)
			robust = append(robust, hamming(hashes[i], Hash(m, s.half75)))
			robust50 = append(robust50, hamming(hashes[i], Hash(m, s.q50)))
			hard = append(hard, hamming(hashes[i], Hash(m, s.hard)))
		}
		for i := range hashes {
			for j := i + 1; j < len(hashes); j++ {
				distinct = append(distinct, hamming(hashes[i], hashes[j]))
			}
		}
		return
	}
	for _, c := range seedCandidates() {
		robust, robust50, hard, distinct := measure(c.m)
		t.Logf("%-22s half+q75: %v", c.name, robust)
		t.Logf("%-22s full q50: %v", "", robust50)
		t.Logf("%-22s 1/4 q40 then q30: %v", "", hard)
		t.Logf("%-22s distinct: %v", "", distinct)
	}
	// The chosen seed must meet the design targets: a half-size JPEG-75
	// re-encode moves a few bits at most; distinct photos are about 48 apart.
	robust, _, _, distinct := measure(defaultSeed())
	mean := func(d dist) float64 {
		s := 0
		for _, v := range d {
			s += v
		}
		return float64(s) / float64(len(d))
	}
	if slices.Max(robust) > 8 || mean(robust) > 2 {
		t.Errorf("default seed: half-size JPEG-75 moves too many bits: %v", robust)
	}
	if m := mean(distinct); m < 42 || m > 54 || slices.Min(distinct) < 24 {
		t.Errorf("default seed: distinct photos too close: %v", distinct)
	}
}
