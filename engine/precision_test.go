package engine

import (
	"bytes"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/ort"
	"github.com/vouchsafe/vouchsafe/models"
)

// The fp16 conversion of both embedded models loads in ONNX Runtime and runs
// on the CPU provider (which computes float16 nodes it lacks kernels for in
// float32 through inserted casts), with embeddings close to fp32's; the
// conversion is cached by model digest and read back from the cache. The
// hash bits moved on the sample photos are logged (bench/README.md has the
// figures on more photos).
func TestPrecisionFP16(t *testing.T) {
	requireORT(t)
	ps := photos(t)
	for _, model := range []string{"default", "bench"} {
		cache := t.TempDir()
		h32 := newTestHasher(t, Options{Model: model})
		h16 := newTestHasher(t, Options{Model: model, Precision: PrecisionFP16, CacheDir: cache})
		if h16.Precision() != PrecisionFP16 || h32.Precision() != PrecisionFP32 {
			t.Fatalf("Precision() = %s, %s", h16.Precision(), h32.Precision())
		}
		r32, r16 := runAll(t, h32, ps), runAll(t, h16, ps)
		moved, worst, same := 0, 0, 0
		for i := range r32 {
			if r32[i].Err != nil || r16[i].Err != nil {
				t.Fatalf("%s: %v / %v", r32[i].Path, r32[i].Err, r16[i].Err)
			}
			d := 0
			for j := range r32[i].Hash {
				d += bits.OnesCount8(r32[i].Hash[j] ^ r16[i].Hash[j])
			}
			moved += d
			worst = max(worst, d)
			if d == 0 {
				same++
			}
		}
		t.Logf("%s fp16 vs fp32 on %d photos: bits moved mean %.2f, max %d, identical %d/%d",
			model, len(ps), float64(moved)/float64(len(ps)), worst, same, len(ps))

		// The embeddings themselves: relative L2 distance under 1%.
		img := make([]float32, imageFloats)
		for i := range img {
			img[i] = float32(math.Sin(float64(i)*0.001)) * 0.9
		}
		e32, e16 := make([]float32, EmbeddingSize), make([]float32, EmbeddingSize)
		if err := h32.Embed(img, 1, e32); err != nil {
			t.Fatal(err)
		}
		if err := h16.Embed(img, 1, e16); err != nil {
			t.Fatal(err)
		}
		var diff, norm float64
		for i := range e32 {
			diff += float64(e32[i]-e16[i]) * float64(e32[i]-e16[i])
			norm += float64(e32[i]) * float64(e32[i])
		}
		if rel := math.Sqrt(diff / norm); !(rel < 1e-2) {
			t.Errorf("%s: fp16 embedding differs from fp32 by %.3g (relative L2)", model, rel)
		}

		// The cache holds one file, the converted model, used on the next load.
		ents, err := os.ReadDir(cache)
		if err != nil || len(ents) != 1 || !strings.HasSuffix(ents[0].Name(), "-"+fp16CacheVersion+".onnx") {
			t.Fatalf("cache %s: %v, %v", cache, ents, err)
		}
		cached, _ := os.ReadFile(filepath.Join(cache, ents[0].Name()))
		m, _ := models.Lookup(model)
		got, err := modelAtPrecision(m.ONNX, model, Options{Precision: PrecisionFP16, CacheDir: cache})
		if err != nil || !bytes.Equal(got, cached) || len(cached) >= len(m.ONNX) && model == "bench" {
			t.Errorf("%s: cached model not reused (err %v, %d bytes, cache %d, fp32 %d)", model, err, len(got), len(cached), len(m.ONNX))
		}
	}
}

func TestPrecisionUnknown(t *testing.T) {
	if _, err := NewHasher(Options{Model: "default", Precision: "fp8"}); err == nil || !strings.Contains(err.Error(), "fp8") {
		t.Errorf("precision fp8: err = %v", err)
	}
}

// A pool of CPU sessions gives the hashes one session gives, with calls in
// flight on each.
func TestSessionsPool(t *testing.T) {
	requireORT(t)
	ps := photos(t)
	one := newTestHasher(t, Options{Model: "default", Batch: 3})
	two := newTestHasher(t, Options{Model: "default", Batch: 3, Sessions: 2, Threads: 2})
	if p, ok := two.sess.(*pool); !ok || len(p.all) != 2 || two.streams() != 2 {
		t.Fatalf("Sessions 2: session %T, streams %d", two.sess, two.streams())
	}
	a, b := runAll(t, one, ps), runAll(t, two, ps)
	for i := range a {
		if a[i].Err != nil || b[i].Err != nil || a[i].Hash != b[i].Hash {
			t.Errorf("%s: one session %v (%v), pool %v (%v)", a[i].Path, a[i].Hash, a[i].Err, b[i].Hash, b[i].Err)
		}
	}
	if _, err := NewHasher(Options{Model: "default", CPU: ort.CPUTuning{Spin: "sometimes"}}); err == nil {
		t.Error("a bad spinning policy opened")
	}
}
