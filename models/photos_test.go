//go:build cgo

package models

import (
	"bytes"
	"image/jpeg"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/imgproc"
	"github.com/vouchsafe/vouchsafe/internal/modelgen"
)

// photoBatch prepares the sample photos in ../testdata/photos with the real
// pipeline (exact decode, Pillow bicubic to 360×360, [-1,1] NCHW).
func photoBatch(tb testing.TB) (names []string, batch []float32) {
	tb.Helper()
	var files []string
	for _, pat := range []string{"*.jpg", "*.png"} {
		m, _ := filepath.Glob(filepath.Join("..", "testdata", "photos", pat))
		files = append(files, m...)
	}
	slices.Sort(files)
	if len(files) < 4 {
		tb.Skip("no sample photos in ../testdata/photos")
	}
	p := imgproc.NewPreparer(imgproc.Options{Exact: true})
	defer p.Close()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		t := make([]float32, imgproc.TensorLen)
		if _, err := p.Prepare(data, t); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		names = append(names, filepath.Base(f))
		batch = append(batch, t...)
	}
	return names, batch
}

// halfQ75 re-reads each photo, resizes it to half size with the pipeline's
// bicubic filter, re-encodes it as JPEG quality 75 and prepares the result.
func halfQ75(tb testing.TB, names []string) []float32 {
	tb.Helper()
	p := imgproc.NewPreparer(imgproc.Options{Exact: true})
	defer p.Close()
	var out []float32
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "photos", name))
		if err != nil {
			tb.Fatal(err)
		}
		img, _, err := imgproc.Decode(data)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		half, err := imgproc.ResizeBicubic(img, max(img.Rect.Dx()/2, 1), max(img.Rect.Dy()/2, 1))
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, half, &jpeg.Options{Quality: 75}); err != nil {
			tb.Fatal(err)
		}
		t := make([]float32, imgproc.TensorLen)
		if _, err := p.Prepare(buf.Bytes(), t); err != nil {
			tb.Fatalf("%s half-size JPEG: %v", name, err)
		}
		out = append(out, t...)
	}
	return out
}

func distances(hashes [][]byte) []int {
	var d []int
	for i := range hashes {
		for j := i + 1; j < len(hashes); j++ {
			n := 0
			for k := range hashes[i] {
				n += bits.OnesCount8(hashes[i][k] ^ hashes[j][k])
			}
			d = append(d, n)
		}
	}
	slices.Sort(d)
	return d
}

func meanOf(d []int) float64 {
	s := 0
	for _, v := range d {
		s += v
	}
	return float64(s) / float64(len(d))
}

// TestDefaultOnPhotos runs the default model through ONNX Runtime on the real
// sample photos: it must match the pure-Go reference, and distinct photos'
// hashes must be far apart.
func TestDefaultOnPhotos(t *testing.T) {
	needORT(t)
	names, in := photoBatch(t)
	n := len(names)
	out := make([]float32, n*128)
	open(t, Default(), 0).run(t, in, n, out)
	seed := seedMatrix(t, Default().Seed)
	var hashes [][]byte
	for i := range n {
		want := modelgen.DefaultEmbedding(in[i*imgproc.TensorLen : (i+1)*imgproc.TensorLen])
		got := out[i*128 : (i+1)*128]
		for j := range want {
			if d := math.Abs(float64(got[j] - want[j])); d > 1e-4*(1+math.Abs(float64(want[j]))) {
				t.Errorf("%s coefficient %d: ORT %g, reference %g", names[i], j, got[j], want[j])
			}
		}
		hashes = append(hashes, modelgen.Hash(seed, got))
	}
	// Half size (Pillow bicubic) and JPEG quality 75, through the same pipeline.
	variants := halfQ75(t, names)
	vout := make([]float32, n*128)
	open(t, Default(), 0).run(t, variants, n, vout)
	var moved []int
	for i := range n {
		h := modelgen.Hash(seed, vout[i*128:(i+1)*128])
		m := 0
		for k := range h {
			m += bits.OnesCount8(h[k] ^ hashes[i][k])
		}
		moved = append(moved, m)
	}
	t.Logf("default model, half size + JPEG 75: bits moved per photo %v (mean %.2f)", moved, meanOf(moved))
	if slices.Max(moved) > 8 || meanOf(moved) > 3 {
		t.Errorf("half-size JPEG-75 re-encode moves too many bits: %v", moved)
	}
	d := distances(hashes)
	t.Logf("default model, %d photos: distinct-pair distances min %d median %d mean %.1f max %d", n, d[0], d[len(d)/2], meanOf(d), d[len(d)-1])
	if d[0] < 20 || meanOf(d) < 40 {
		t.Errorf("distinct photos too close: %v", d)
	}
}

// TestBenchOnPhotos checks the bench model's embeddings of real photos are
// finite and differ between photos (random weights must not collapse them).
func TestBenchOnPhotos(t *testing.T) {
	needORT(t)
	names, in := photoBatch(t)
	n := len(names)
	out := make([]float32, n*128)
	open(t, Bench(), 0).run(t, in, n, out)
	seed := seedMatrix(t, Bench().Seed)
	var hashes [][]byte
	var within, across float64 // mean variance within an embedding, across photos
	for j := range 128 {
		m := 0.0
		for i := range n {
			m += float64(out[i*128+j])
		}
		m /= float64(n)
		for i := range n {
			across += (float64(out[i*128+j]) - m) * (float64(out[i*128+j]) - m)
		}
	}
	across /= float64(n * 128)
	for i := range n {
		e := out[i*128 : (i+1)*128]
		m := 0.0
		for _, v := range e {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: embedding has %v", names[i], v)
			}
			m += float64(v)
		}
		m /= 128
		for _, v := range e {
			within += (float64(v) - m) * (float64(v) - m)
		}
		hashes = append(hashes, modelgen.Hash(seed, e))
	}
	within /= float64(n * 128)
	d := distances(hashes)
	t.Logf("bench model, %d photos: output variance within an embedding %.4g, across photos %.4g; hash distances min %d median %d mean %.1f max %d",
		n, within, across, d[0], d[len(d)/2], meanOf(d), d[len(d)-1])
	if within < 1e-4 || across < 1e-3*within {
		t.Errorf("embeddings degenerate: variance within %g, across photos %g", within, across)
	}
	if d[0] == 0 {
		t.Error("two distinct photos have the same bench hash")
	}
}
