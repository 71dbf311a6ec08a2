package engine

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkProjection(b *testing.B) {
	p, err := ParseSeed(seedBytes(randomRows(1)))
	if err != nil {
		b.Fatal(err)
	}
	emb := make([]float32, EmbeddingSize)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range emb {
		emb[i] = float32(rng.NormFloat64())
	}
	for b.Loop() {
		p.Hash(emb)
	}
}

// benchPhotos is the sample photos, or the JPEGs in $VOUCHSAFE_PHOTOS.
func benchPhotos(b *testing.B) []string {
	if dir := os.Getenv("VOUCHSAFE_PHOTOS"); dir != "" {
		ps, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
		if len(ps) > 0 {
			return ps
		}
	}
	return photos(b)
}

// BenchmarkRun is the whole pipeline, end to end; compare with
// BenchmarkDecodeOnly (the decode stage alone, same workers) and the
// inference benchmarks in package models. b.N counts images.
func BenchmarkRun(b *testing.B) {
	for _, model := range []string{"default", "bench"} {
		b.Run(model, func(b *testing.B) {
			h := newTestHasher(b, Options{Model: model})
			ps := benchPhotos(b)
			b.ResetTimer()
			in := func(yield func(Input) bool) {
				for i := range b.N {
					if !yield(Input{Path: ps[i%len(ps)]}) {
						return
					}
				}
			}
			if _, err := h.Run(context.Background(), in, func(r Record) error {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

// BenchmarkDecodeOnly runs the decode stage of Run with the same worker count
// and no inference, for the side-by-side stage figures.
func BenchmarkDecodeOnly(b *testing.B) {
	ps := benchPhotos(b)
	data := make([][]byte, len(ps))
	for i, p := range ps {
		var err error
		if data[i], err = os.ReadFile(p); err != nil {
			b.Fatal(err)
		}
	}
	b.RunParallel(func(pb *testing.PB) {
		prep := newPreparer(Options{})
		defer prep.Close()
		dst := make([]float32, imageFloats)
		i := rand.IntN(len(data))
		for pb.Next() {
			if _, _, err := prep.Prepare(data[i%len(data)], dst); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "img/s")
}
