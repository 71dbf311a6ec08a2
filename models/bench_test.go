//go:build cgo

package models

import (
	"fmt"
	"testing"
)

// BenchmarkInference measures ONNX Runtime CPU inference of both built-in
// models at batch sizes 1, 8 and 32, reporting images per second. Sessions use
// ONNX Runtime's default intra-op thread count (one per core).
func BenchmarkInference(b *testing.B) {
	needORT(b)
	for _, m := range []Model{Default(), Bench()} {
		s := open(b, m, 0)
		for _, n := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("model=%s/batch=%d", m.Name, n), func(b *testing.B) {
				in := make([]float32, 0, n*3*360*360)
				for i := range n {
					in = append(in, testImage(uint64(i))...)
				}
				out := make([]float32, n*128)
				s.run(b, in, n, out) // warm up: first run plans memory
				b.ResetTimer()
				for b.Loop() {
					s.run(b, in, n, out)
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
			})
		}
	}
}
