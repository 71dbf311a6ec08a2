//go:build cgo

package pdq

/*
#cgo LDFLAGS: -l:libturbojpeg.a
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

// Progressive files with more scans than this are refused, as
// internal/imgproc refuses them (TJFLAG_LIMITSCANS): a tiny file could
// otherwise cost minutes of CPU.
#define PDQ_MAX_SCANS 500

typedef struct {
	struct jpeg_error_mgr pub;
	struct jpeg_progress_mgr progress;
	jmp_buf jump;
	char *msg;
} pdq_jpeg_err;

static void pdq_jpeg_error_exit(j_common_ptr c) {
	pdq_jpeg_err *e = (pdq_jpeg_err *)c->err;
	(*c->err->format_message)(c, e->msg);
	longjmp(e->jump, 1);
}

// Warnings (corrupt data that libjpeg can go on from) are not fatal, as in
// ImageMagick and internal/imgproc, and are not printed, except a premature
// end of data: a truncated file is refused, as the NeuralHash decoder (and
// Pillow) refuse it, so that both hashes share one decode policy.
static void pdq_jpeg_output_message(j_common_ptr c) { (void)c; }

static void pdq_jpeg_emit_message(j_common_ptr c, int level) {
	if (level >= 0) {
		return; // trace messages
	}
	c->err->num_warnings++;
	if (c->err->msg_code == JWRN_JPEG_EOF) {
		pdq_jpeg_err *e = (pdq_jpeg_err *)c->err;
		(*c->err->format_message)(c, e->msg);
		longjmp(e->jump, 1);
	}
}

static void pdq_jpeg_progress(j_common_ptr c) {
	j_decompress_ptr d = (j_decompress_ptr)c;
	if (d->input_scan_number > PDQ_MAX_SCANS) {
		pdq_jpeg_err *e = (pdq_jpeg_err *)c->err;
		snprintf(e->msg, JMSG_LENGTH_MAX, "more than %d scans", PDQ_MAX_SCANS);
		longjmp(e->jump, 1);
	}
}

static void pdq_jpeg_init(struct jpeg_decompress_struct *d, pdq_jpeg_err *e, char *msg) {
	memset(d, 0, sizeof(*d));
	d->err = jpeg_std_error(&e->pub);
	e->pub.error_exit = pdq_jpeg_error_exit;
	e->pub.output_message = pdq_jpeg_output_message;
	e->pub.emit_message = pdq_jpeg_emit_message;
	e->msg = msg;
	jpeg_create_decompress(d);
	e->progress.progress_monitor = pdq_jpeg_progress;
	d->progress = &e->progress;
}

// pdq_jpeg_header reads the frame header: size, colour space and the
// sampling factors of up to three components. It returns 0, or -1 with msg
// set.
static int pdq_jpeg_header(const unsigned char *buf, unsigned long len, int *info, char *msg) {
	struct jpeg_decompress_struct d;
	pdq_jpeg_err e;
	pdq_jpeg_init(&d, &e, msg);
	if (setjmp(e.jump)) {
		jpeg_destroy_decompress(&d);
		return -1;
	}
	jpeg_mem_src(&d, buf, len);
	jpeg_read_header(&d, TRUE);
	info[0] = d.image_width;
	info[1] = d.image_height;
	info[2] = d.num_components;
	info[3] = d.jpeg_color_space;
	info[4] = d.data_precision;
	for (int c = 0; c < d.num_components && c < 3; c++) {
		info[5 + 2 * c] = d.comp_info[c].h_samp_factor;
		info[6 + 2 * c] = d.comp_info[c].v_samp_factor;
	}
	jpeg_destroy_decompress(&d);
	return 0;
}

// pdq_jpeg_raw decodes the components of buf as libjpeg's raw data, with
// every DCT block scaled to scale/8 of its size and the IDCT method, and
// copies component c, cropped to w×h, into planes[c] (stride w) where
// planes[c] is not NULL; components without a plane are not inverse
// transformed. It returns 0, or -1 with msg set.
static int pdq_jpeg_raw(const unsigned char *buf, unsigned long len, int scale, J_DCT_METHOD method,
		unsigned char *planes[3], int w, int h, char *msg) {
	struct jpeg_decompress_struct d;
	pdq_jpeg_err e;
	// Assigned after setjmp and freed after longjmp: volatile.
	unsigned char *volatile scratch = NULL;
	JSAMPROW *volatile rows = NULL;
	pdq_jpeg_init(&d, &e, msg);
	if (setjmp(e.jump)) {
		free(scratch);
		free(rows);
		jpeg_destroy_decompress(&d);
		return -1;
	}
	jpeg_mem_src(&d, buf, len);
	jpeg_read_header(&d, TRUE);
	d.raw_data_out = TRUE;
	d.scale_num = scale;
	d.scale_denom = 8;
	d.dct_method = method;
	jpeg_start_decompress(&d);
	int n = d.num_components;
	if (n > 3) {
		snprintf(msg, JMSG_LENGTH_MAX, "%d components", n);
		longjmp(e.jump, 1);
	}
	// One iMCU row of every component.
	size_t off[3], total = 0;
	int nrows[3], width[3], allrows = 0;
	for (int c = 0; c < n; c++) {
		jpeg_component_info *ci = &d.comp_info[c];
		nrows[c] = ci->v_samp_factor * ci->DCT_scaled_size;
		width[c] = ci->width_in_blocks * ci->DCT_scaled_size;
		off[c] = total;
		total += (size_t)nrows[c] * width[c];
		allrows += nrows[c];
		if (planes[c] == NULL) {
			ci->component_needed = FALSE;
		}
	}
	scratch = malloc(total > 0 ? total : 1);
	rows = malloc(sizeof(JSAMPROW) * (allrows > 0 ? allrows : 1));
	if (scratch == NULL || rows == NULL) {
		snprintf(msg, JMSG_LENGTH_MAX, "out of memory");
		longjmp(e.jump, 1);
	}
	JSAMPARRAY arrays[3];
	for (int c = 0, k = 0; c < n; c++) {
		arrays[c] = &rows[k];
		for (int r = 0; r < nrows[c]; r++, k++) {
			rows[k] = scratch + off[c] + (size_t)r * width[c];
		}
	}
	int lines = d.max_v_samp_factor * d.min_DCT_scaled_size;
	for (unsigned int iy = 0; iy < d.total_iMCU_rows; iy++) {
		if (jpeg_read_raw_data(&d, arrays, lines) == 0) {
			snprintf(msg, JMSG_LENGTH_MAX, "suspended reading raw data");
			longjmp(e.jump, 1);
		}
		for (int c = 0; c < n; c++) {
			if (planes[c] == NULL) {
				continue;
			}
			int cw = width[c] < w ? width[c] : w;
			for (int r = 0; r < nrows[c]; r++) {
				long y = (long)iy * nrows[c] + r;
				if (y >= h) {
					break;
				}
				memcpy(planes[c] + y * w, arrays[c][r], cw);
			}
		}
	}
	jpeg_abort_decompress(&d);
	jpeg_destroy_decompress(&d);
	free(scratch);
	free(rows);
	return 0;
}

static int pdq_jpeg_planes(const unsigned char *buf, unsigned long len, int w, int h, int chroma16,
		unsigned char *y, unsigned char *cb, unsigned char *cr, char *msg) {
	if (!chroma16) {
		unsigned char *p[3] = {y, cb, cr};
		return pdq_jpeg_raw(buf, len, 8, JDCT_FLOAT, p, w, h, msg);
	}
	unsigned char *luma[3] = {y, NULL, NULL};
	if (pdq_jpeg_raw(buf, len, 8, JDCT_FLOAT, luma, w, h, msg) != 0) {
		return -1;
	}
	// Twice the scale: the chroma blocks of a 4:2:0 file come out at full
	// resolution through libjpeg's 16×16 IDCT (the luma is skipped).
	unsigned char *chroma[3] = {NULL, cb, cr};
	return pdq_jpeg_raw(buf, len, 16, JDCT_ISLOW, chroma, w, h, msg);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"strings"
	"unsafe"

	"github.com/vouchsafe/vouchsafe/internal/imgproc"
)

// jpegError turns libjpeg's message into an error; a premature end of data
// wraps imgproc.ErrTruncated, as the NeuralHash decoder's does.
func jpegError(msg *C.char) error {
	s := C.GoString(msg)
	if strings.Contains(s, "remature end") {
		return fmt.Errorf("%w: %s", imgproc.ErrTruncated, s)
	}
	return errors.New(s)
}

// turboJPEG reports whether JPEG is decoded by libjpeg-turbo in this build
// (with cgo) rather than by image/jpeg.
const turboJPEG = true

// decodeJPEGRef decodes a JPEG as Meta's C++ tool reads it: through
// ImageMagick (whose JPEG reader selects libjpeg's floating-point IDCT) and
// IJG libjpeg 7 or later, which brings 4:2:0 chroma to full resolution in
// the DCT domain (a 16×16 inverse DCT of each 8×8 chroma block) rather than
// with libjpeg 6's triangular filter. libjpeg-turbo does both when asked
// for raw data: the luma at scale 1 with JDCT_FLOAT, the chroma at scale 2.
//
// It handles greyscale files and YCbCr files with 4:4:4 or 4:2:0 sampling,
// returning an *image.Gray or a 4:4:4 *image.YCbCr, and reports false for
// other files (CMYK, 4:2:2, ...), which the caller decodes as before.
func decodeJPEGRef(data []byte) (image.Image, bool, error) {
	if len(data) == 0 {
		return nil, false, nil
	}
	var msg [C.JMSG_LENGTH_MAX]C.char
	var info [11]C.int
	buf := (*C.uchar)(unsafe.Pointer(&data[0]))
	n := C.ulong(len(data))
	if C.pdq_jpeg_header(buf, n, &info[0], &msg[0]) != 0 {
		return nil, false, jpegError(&msg[0])
	}
	w, h, comps, space, prec := int(info[0]), int(info[1]), int(info[2]), int(info[3]), int(info[4])
	if w <= 0 || h <= 0 || prec != 8 {
		return nil, false, nil
	}
	samp := func(c int) (int, int) { return int(info[5+2*c]), int(info[6+2*c]) }
	switch {
	case comps == 1 && space == C.JCS_GRAYSCALE:
		m := image.NewGray(image.Rect(0, 0, w, h))
		p := (*C.uchar)(unsafe.Pointer(&m.Pix[0]))
		if C.pdq_jpeg_planes(buf, n, C.int(w), C.int(h), 0, p, nil, nil, &msg[0]) != 0 {
			return nil, false, jpegError(&msg[0])
		}
		return m, true, nil
	case comps == 3 && space == C.JCS_YCbCr:
		h0, v0 := samp(0)
		h1, v1 := samp(1)
		h2, v2 := samp(2)
		if h1 != 1 || v1 != 1 || h2 != 1 || v2 != 1 {
			return nil, false, nil
		}
		var chroma16 C.int
		switch {
		case h0 == 1 && v0 == 1:
		case h0 == 2 && v0 == 2:
			chroma16 = 1
		default:
			return nil, false, nil
		}
		m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio444)
		y := (*C.uchar)(unsafe.Pointer(&m.Y[0]))
		cb := (*C.uchar)(unsafe.Pointer(&m.Cb[0]))
		cr := (*C.uchar)(unsafe.Pointer(&m.Cr[0]))
		if C.pdq_jpeg_planes(buf, n, C.int(w), C.int(h), chroma16, y, cb, cr, &msg[0]) != 0 {
			return nil, false, jpegError(&msg[0])
		}
		return m, true, nil
	}
	return nil, false, nil
}
