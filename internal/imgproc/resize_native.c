//go:build cgo

// Native kernels of the Pillow-exact bicubic resize (see resize.go for the
// reference Go code). Every kernel computes the same integer sums as the Go
// code: the sums are exact in 32 bits, so the order of the terms and the
// SIMD splitting of the coefficients do not change a single output bit.

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "resize_native.h"

#if defined(__x86_64__) || defined(__i386__)
#define VS_X86 1
#include <immintrin.h>
#endif

#define PRECISION_BITS 22
#define HALF (1 << (PRECISION_BITS - 1))

static inline uint8_t clip8(int32_t v) {
	v >>= PRECISION_BITS; // arithmetic shift (GCC, Clang)
	if (v < 0)
		return 0;
	if (v > 255)
		return 255;
	return (uint8_t)v;
}

int vs_resize_have_avx2(void) {
#ifdef VS_X86
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
	return 0;
#endif
}

// hpixels filters outputs [from, to) of one row, as Resizer.horizontalRow.
static void hpixels(uint8_t *d, const uint8_t *s, int from, int to, int ksize,
		    const int32_t *start, const int32_t *n, const int32_t *k) {
	for (int x = from; x < to; x++) {
		const int32_t *kk = k + (ptrdiff_t)x * ksize;
		const uint8_t *p = s + 3 * (ptrdiff_t)start[x];
		int32_t r = HALF, g = HALF, b = HALF;
		for (int j = 0; j < n[x]; j++) {
			int32_t c = kk[j];
			r += (int32_t)p[3 * j] * c;
			g += (int32_t)p[3 * j + 1] * c;
			b += (int32_t)p[3 * j + 2] * c;
		}
		d[3 * x] = clip8(r);
		d[3 * x + 1] = clip8(g);
		d[3 * x + 2] = clip8(b);
	}
}

void vs_plan_size(int out, int ksize, size_t *words) {
	size_t ntp = ((size_t)ksize + 1) / 2;
	*words = (size_t)out * 2 + (size_t)out * ntp * 2;
}

// vs_plan lays the taps out for the AVX2 horizontal kernel, which filters
// an output pixel of two rows at once, one row per 128-bit lane, two taps at
// a time with VPMADDWD. A tap k (|k| < 2^23) is split as k = hi*65536 + lo
// with lo a signed 16-bit value, so that p*k = (p*hi)<<16 + p*lo with both
// products 16-bit by 16-bit: the two partial sums recombine, modulo 2^32,
// into the exact 32-bit sum.
//
// For output x, plan[2x] is the number of tap pairs and plan[2x+1] the
// number of bytes the 16-byte loads read from the row start. From word
// 2*out, per output and tap pair: the lo halves of the two taps packed in
// one word, then the hi halves. Taps past n are zero.
void vs_plan(int32_t *plan, int out, int ksize, const int32_t *start,
	     const int32_t *n, const int32_t *k) {
	int ntp = (ksize + 1) / 2;
	int32_t *tab = plan + 2 * (ptrdiff_t)out;
	for (int x = 0; x < out; x++) {
		int tp = (n[x] + 1) / 2;
		if (tp == 0)
			tp = 1;
		plan[2 * x] = tp;
		plan[2 * x + 1] = 3 * start[x] + 6 * (tp - 1) + 16;
		for (int t = 0; t < ntp; t++) {
			uint32_t lo = 0, hi = 0;
			for (int u = 0; u < 2; u++) {
				int j = 2 * t + u;
				int32_t c = j < n[x] ? k[(ptrdiff_t)x * ksize + j] : 0;
				int16_t l = (int16_t)(uint16_t)(uint32_t)c;
				int32_t h = (c - l) / 65536;
				lo |= (uint32_t)(uint16_t)l << (16 * u);
				hi |= (uint32_t)(uint16_t)(int16_t)h << (16 * u);
			}
			int32_t *w = tab + ((ptrdiff_t)x * ntp + t) * 2;
			w[0] = (int32_t)lo;
			w[1] = (int32_t)hi;
		}
	}
}

#ifdef VS_X86
// Per 128-bit lane, bytes R0 G0 B0 R1 G1 B1 of two adjacent pixels to
// 16-bit words R0 R1 G0 G1 B0 B1 0 0.
#define VS_SHUF 0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1

__attribute__((target("avx2"))) static void hrows_avx2(
    uint8_t *dst, ptrdiff_t dstride, const uint8_t *src, ptrdiff_t sstride,
    size_t avail, int rows, int out, int ksize, const int32_t *start,
    const int32_t *n, const int32_t *k, const int32_t *plan) {
	int ntp = (ksize + 1) / 2;
	const int32_t *tab = plan + 2 * (ptrdiff_t)out;
	const __m256i shuf = _mm256_setr_epi8(VS_SHUF, VS_SHUF);
	const __m256i half = _mm256_set1_epi32(HALF);
	int y = 0;
	for (; y + 2 <= rows; y += 2) {
		const uint8_t *s0 = src + (ptrdiff_t)y * sstride, *s1 = s0 + sstride;
		uint8_t *d0 = dst + (ptrdiff_t)y * dstride, *d1 = d0 + dstride;
		// avail counts the bytes from src, the first row, to the end of
		// the image's memory; s1 lies after s0.
		size_t off = (size_t)(s1 - src);
		for (int x = 0; x < out; x++) {
			if (off + (size_t)plan[2 * x + 1] > avail) {
				// The 16-byte loads would leave the buffer.
				hpixels(d0, s0, x, x + 1, ksize, start, n, k);
				hpixels(d1, s1, x, x + 1, ksize, start, n, k);
				continue;
			}
			int tp = plan[2 * x];
			ptrdiff_t p = 3 * (ptrdiff_t)start[x];
			const uint8_t *p0 = s0 + p, *p1 = s1 + p;
			const int32_t *w = tab + (ptrdiff_t)x * ntp * 2;
			__m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
			for (int t = 0; t < tp; t++) {
				__m256i v = _mm256_inserti128_si256(
				    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p0 + 6 * t))),
				    _mm_loadu_si128((const __m128i *)(p1 + 6 * t)), 1);
				v = _mm256_shuffle_epi8(v, shuf);
				lo = _mm256_add_epi32(lo, _mm256_madd_epi16(v, _mm256_set1_epi32(w[2 * t])));
				hi = _mm256_add_epi32(hi, _mm256_madd_epi16(v, _mm256_set1_epi32(w[2 * t + 1])));
			}
			__m256i sum = _mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(hi, 16), lo), half);
			sum = _mm256_srai_epi32(sum, PRECISION_BITS);
			sum = _mm256_packs_epi32(sum, sum);
			sum = _mm256_packus_epi16(sum, sum);
			uint32_t a = (uint32_t)_mm256_extract_epi32(sum, 0);
			uint32_t b = (uint32_t)_mm256_extract_epi32(sum, 4);
			// Four-byte stores: the fourth byte lands on the next
			// pixel, written afterwards, except at the row's end.
			if (x + 1 < out) {
				memcpy(d0 + 3 * (ptrdiff_t)x, &a, 4);
				memcpy(d1 + 3 * (ptrdiff_t)x, &b, 4);
			} else {
				memcpy(d0 + 3 * (ptrdiff_t)x, &a, 3);
				memcpy(d1 + 3 * (ptrdiff_t)x, &b, 3);
			}
		}
	}
	if (y < rows) {
		const uint8_t *s0 = src + (ptrdiff_t)y * sstride;
		uint8_t *d0 = dst + (ptrdiff_t)y * dstride;
		const __m128i shuf1 = _mm_setr_epi8(VS_SHUF);
		size_t off = (size_t)(s0 - src);
		for (int x = 0; x < out; x++) {
			if (off + (size_t)plan[2 * x + 1] > avail) {
				hpixels(d0, s0, x, x + 1, ksize, start, n, k);
				continue;
			}
			int tp = plan[2 * x];
			const uint8_t *p0 = s0 + 3 * (ptrdiff_t)start[x];
			const int32_t *w = tab + (ptrdiff_t)x * ntp * 2;
			__m128i lo = _mm_setzero_si128(), hi = _mm_setzero_si128();
			for (int t = 0; t < tp; t++) {
				__m128i v = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p0 + 6 * t)), shuf1);
				lo = _mm_add_epi32(lo, _mm_madd_epi16(v, _mm_set1_epi32(w[2 * t])));
				hi = _mm_add_epi32(hi, _mm_madd_epi16(v, _mm_set1_epi32(w[2 * t + 1])));
			}
			__m128i sum = _mm_add_epi32(_mm_add_epi32(_mm_slli_epi32(hi, 16), lo), _mm256_castsi256_si128(half));
			sum = _mm_srai_epi32(sum, PRECISION_BITS);
			sum = _mm_packs_epi32(sum, sum);
			sum = _mm_packus_epi16(sum, sum);
			uint32_t a = (uint32_t)_mm_cvtsi128_si32(sum);
			if (x + 1 < out)
				memcpy(d0 + 3 * (ptrdiff_t)x, &a, 4);
			else
				memcpy(d0 + 3 * (ptrdiff_t)x, &a, 3);
		}
	}
}
#endif

void vs_hrows(uint8_t *dst, ptrdiff_t dstride, const uint8_t *src, ptrdiff_t sstride,
	      size_t avail, int rows, int out, int ksize, const int32_t *start,
	      const int32_t *n, const int32_t *k, const int32_t *plan, int kernel) {
#ifdef VS_X86
	if (kernel == VS_KERNEL_AVX2 && plan != NULL) {
		hrows_avx2(dst, dstride, src, sstride, avail, rows, out, ksize, start, n, k, plan);
		return;
	}
#endif
	for (int y = 0; y < rows; y++)
		hpixels(dst + (ptrdiff_t)y * dstride, src + (ptrdiff_t)y * sstride, 0, out, ksize, start, n, k);
}

// vrows is the vertical pass of Resizer.vertical: whole rows are
// accumulated so that memory is read sequentially. Inlined into a
// generic and an AVX2 function, which GCC vectorises with -O3.
static inline __attribute__((always_inline)) void vrows(
    uint8_t *restrict dst, ptrdiff_t dstride, const uint8_t *restrict src, ptrdiff_t sstride,
    int first, int w, int out, int ksize, const int32_t *restrict start,
    const int32_t *restrict n, const int32_t *restrict k, int32_t *restrict acc) {
	for (int yy = 0; yy < out; yy++) {
		const int32_t *kk = k + (ptrdiff_t)yy * ksize;
		const uint8_t *s = src + (ptrdiff_t)(start[yy] - first) * sstride;
		int nn = n[yy];
		for (int i = 0; i < w; i++)
			acc[i] = HALF;
		int j = 0;
		for (; j + 2 <= nn; j += 2) {
			const uint8_t *restrict r0 = s + (ptrdiff_t)j * sstride;
			const uint8_t *restrict r1 = r0 + sstride;
			int32_t c0 = kk[j], c1 = kk[j + 1];
			for (int i = 0; i < w; i++)
				acc[i] += (int32_t)r0[i] * c0 + (int32_t)r1[i] * c1;
		}
		if (j < nn) {
			const uint8_t *restrict r0 = s + (ptrdiff_t)j * sstride;
			int32_t c0 = kk[j];
			for (int i = 0; i < w; i++)
				acc[i] += (int32_t)r0[i] * c0;
		}
		uint8_t *restrict d = dst + (ptrdiff_t)yy * dstride;
		for (int i = 0; i < w; i++) {
			int32_t v = acc[i] >> PRECISION_BITS;
			d[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
	}
}

static void vrows_generic(uint8_t *dst, ptrdiff_t dstride, const uint8_t *src, ptrdiff_t sstride,
			  int first, int w, int out, int ksize, const int32_t *start, const int32_t *n,
			  const int32_t *k, int32_t *acc) {
	vrows(dst, dstride, src, sstride, first, w, out, ksize, start, n, k, acc);
}

#ifdef VS_X86
__attribute__((target("avx2"))) static void vrows_avx2(
    uint8_t *dst, ptrdiff_t dstride, const uint8_t *src, ptrdiff_t sstride, int first, int w,
    int out, int ksize, const int32_t *start, const int32_t *n, const int32_t *k, int32_t *acc) {
	vrows(dst, dstride, src, sstride, first, w, out, ksize, start, n, k, acc);
}
#endif

void vs_vrows(uint8_t *dst, ptrdiff_t dstride, const uint8_t *src, ptrdiff_t sstride,
	      int first, int w, int out, int ksize, const int32_t *start, const int32_t *n,
	      const int32_t *k, int32_t *acc, int kernel) {
#ifdef VS_X86
	if (kernel == VS_KERNEL_AVX2) {
		vrows_avx2(dst, dstride, src, sstride, first, w, out, ksize, start, n, k, acc);
		return;
	}
#endif
	vrows_generic(dst, dstride, src, sstride, first, w, out, ksize, start, n, k, acc);
}
