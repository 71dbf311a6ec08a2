package p256

import "testing"

func BenchmarkFeMul(b *testing.B) {
	x := rr
	for i := 0; i < b.N; i++ {
		feMul(&x, &x, &rr)
	}
}

// BenchmarkFeInv is this package's Go inversion: about three times nistec's
// assembly one, which is why CompressBatch inverts with nistec.
func BenchmarkFeInv(b *testing.B) {
	x := rr
	for i := 0; i < b.N; i++ {
		feInv(&x, &x)
	}
}
