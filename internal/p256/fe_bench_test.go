package p256

import "testing"

func BenchmarkFeMul(b *testing.B) {
	x := rr
	for i := 0; i < b.N; i++ {
		feMul(&x, &x, &rr)
	}
}

func BenchmarkFeInv(b *testing.B) {
	x := rr
	for i := 0; i < b.N; i++ {
		feInv(&x, &x)
	}
}
