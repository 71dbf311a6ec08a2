//go:build cgo

// Declarations of the native resize kernels of resize_native.c.

#ifndef VS_RESIZE_NATIVE_H
#define VS_RESIZE_NATIVE_H

#include <stddef.h>
#include <stdint.h>

enum { VS_KERNEL_GENERIC = 0, VS_KERNEL_AVX2 = 1 };

int vs_resize_have_avx2(void);
void vs_plan_size(int out, int ksize, size_t *words);
void vs_plan(int32_t *plan, int out, int ksize, const int32_t *start, const int32_t *n,
	     const int32_t *k);
void vs_hrows(uint8_t *dst, ptrdiff_t dstride, const uint8_t *src, ptrdiff_t sstride,
	      size_t avail, int rows, int out, int ksize, const int32_t *start,
	      const int32_t *n, const int32_t *k, const int32_t *plan, int kernel);
void vs_vrows(uint8_t *dst, ptrdiff_t dstride, const uint8_t *src, ptrdiff_t sstride,
	      int first, int w, int out, int ksize, const int32_t *start, const int32_t *n,
	      const int32_t *k, int32_t *acc, int kernel);

#endif
