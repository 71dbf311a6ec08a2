//go:build cgo

package derivative

/*
#cgo CFLAGS: -O3
#include <stddef.h>
#include <stdint.h>

// colsum sets col[i] to the sum of src[i] over rows [y0, y1): the bulk of
// the work, one widening addition per source byte, which the compiler
// vectorises.
#define VS_COLSUM_BODY                                      \
	const uint8_t *p = src + y0 * stride;                  \
	for (size_t i = 0; i < n; i++)                          \
		col[i] = p[i];                                       \
	for (ptrdiff_t y = y0 + 1; y < y1; y++) {               \
		p = src + y * stride;                                \
		for (size_t i = 0; i < n; i++)                       \
			col[i] += p[i];                                  \
	}

static void colsum(uint32_t *restrict col, const uint8_t *restrict src, ptrdiff_t stride, size_t n,
                   ptrdiff_t y0, ptrdiff_t y1) {
	VS_COLSUM_BODY
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"))) static void colsum_avx2(uint32_t *restrict col, const uint8_t *restrict src,
                                                        ptrdiff_t stride, size_t n, ptrdiff_t y0, ptrdiff_t y1) {
	VS_COLSUM_BODY
}
static int have_avx2(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2");
}
#else
#define colsum_avx2 colsum
static int have_avx2(void) { return 0; }
#endif

// vs_downscale is Downscale's box average for an image whose rows are
// sh runs of sw pixels of step bytes (1: luma; 3 or 4: R, G, B first),
// stride bytes apart from src, into the w×h bytes at out. It computes
// the same unsigned 64-bit sums as the Go code, so every output byte is
// the same. col holds sw·step column sums.
static void vs_downscale(uint8_t *out, int w, int h, const uint8_t *src, ptrdiff_t stride, int step, int sw,
                         int sh, uint32_t *col, int avx2) {
	size_t n = (size_t)sw * (size_t)step;
	for (int oy = 0; oy < h; oy++) {
		ptrdiff_t y0 = (ptrdiff_t)((int64_t)oy * sh / h), y1 = (ptrdiff_t)((int64_t)(oy + 1) * sh / h);
		if (y1 <= y0)
			y1 = y0 + 1;
		if (avx2)
			colsum_avx2(col, src, stride, n, y0, y1);
		else
			colsum(col, src, stride, n, y0, y1);
		for (int ox = 0; ox < w; ox++) {
			int64_t x0 = (int64_t)ox * sw / w, x1 = (int64_t)(ox + 1) * sw / w;
			if (x1 <= x0)
				x1 = x0 + 1;
			uint64_t s;
			if (step == 1) {
				uint64_t v = 0;
				for (int64_t x = x0; x < x1; x++)
					v += col[x];
				s = 1000 * v;
			} else {
				uint64_t r = 0, g = 0, b = 0;
				for (int64_t x = x0; x < x1; x++) {
					const uint32_t *c = col + x * step;
					r += c[0];
					g += c[1];
					b += c[2];
				}
				s = 299 * r + 587 * g + 114 * b;
			}
			uint64_t cnt = (uint64_t)((x1 - x0) * (int64_t)(y1 - y0));
			out[(size_t)oy * (size_t)w + (size_t)ox] = (uint8_t)((s + 500 * cnt) / (1000 * cnt));
		}
	}
}

*/
import "C"

import (
	"math"
	"unsafe"
)

// haveAVX2 reports whether this CPU runs the AVX2 build of the column sums.
var haveAVX2 = C.have_avx2() != 0

// downscaleNative is Downscale in C for images whose rows lie in memory
// (see planar); it reports false when it did not run.
func downscaleNative(out []byte, w, h int, src []byte, stride, step, sw, sh int) bool {
	return downscaleKernel(haveAVX2, out, w, h, src, stride, step, sw, sh)
}

// downscaleKernel is downscaleNative on the portable (avx2 false) or the
// AVX2 build of the column sums; TestDownscaleNative runs each of
// nativeKernels.
func downscaleKernel(avx2 bool, out []byte, w, h int, src []byte, stride, step, sw, sh int) bool {
	// The C code reads sw·step bytes of rows [0, sh) of src: only where they
	// lie inside it, and only as many rows as a 32-bit column sum holds.
	if stride < 0 || len(src) < (sh-1)*stride+step*sw || sh > maxNativeRows || max(w, h, sw) > math.MaxInt32 {
		return false
	}
	var useAVX2 C.int
	if avx2 {
		useAVX2 = 1
	}
	col := make([]uint32, sw*step)
	C.vs_downscale((*C.uint8_t)(unsafe.Pointer(&out[0])), C.int(w), C.int(h),
		(*C.uint8_t)(unsafe.Pointer(&src[0])), C.ptrdiff_t(stride), C.int(step), C.int(sw), C.int(sh),
		(*C.uint32_t)(unsafe.Pointer(&col[0])), useAVX2)
	return true
}

// maxNativeRows bounds the rows one 32-bit column sum may add up.
const maxNativeRows = (1<<32 - 1) / 255

// nativeKernels lists the kernels this build and CPU run, as
// downscaleKernel's avx2 argument.
func nativeKernels() []bool {
	if haveAVX2 {
		return []bool{false, true}
	}
	return []bool{false}
}
