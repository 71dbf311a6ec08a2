//go:build cgo

package jpeg

/*
#cgo LDFLAGS: -l:libjpeg.a
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

// Pillow's pixels and Meta's PDQ vectors are libjpeg-turbo's: IJG libjpeg 9
// upsamples and scales differently.
#ifndef LIBJPEG_TURBO_VERSION
#error "internal/jpeg needs libjpeg-turbo's jpeglib.h (Debian, Ubuntu: libjpeg-dev)"
#endif

#if JPEG_LIB_VERSION >= 70
#define VS_DCT_H(ci) ((ci)->DCT_h_scaled_size)
#define VS_DCT_V(ci) ((ci)->DCT_v_scaled_size)
#define VS_MIN_DCT_V(d) ((d)->min_DCT_v_scaled_size)
#else
#define VS_DCT_H(ci) ((ci)->DCT_scaled_size)
#define VS_DCT_V(ci) ((ci)->DCT_scaled_size)
#define VS_MIN_DCT_V(d) ((d)->min_DCT_scaled_size)
#endif

enum { VS_OK, VS_ERR_LIBJPEG, VS_ERR_TRUNCATED, VS_ERR_SCANS, VS_ERR_CALL };

// vs_result is returned by value so that Go passes no pointer to its own
// memory for it (which would move it to the heap on every call).
typedef struct {
	int status;
	int warnings;
	int width, height, components, color_space, precision;
	int progressive, arithmetic, adobe;
	int h_samp[4], v_samp[4];
	int out_width, out_height, out_components;
	char msg[JMSG_LENGTH_MAX];
} vs_result;

typedef struct {
	int scale_num, scale_denom;
	int dct_method;
	int out_color_space;
	int fancy;
	int max_scans;
} vs_options;

typedef struct {
	struct jpeg_error_mgr pub;
	struct jpeg_progress_mgr progress;
	jmp_buf jump;
	int max_scans;
	vs_result *res;
} vs_err;

static void vs_error_exit(j_common_ptr c) {
	vs_err *e = (vs_err *)c->err;
	e->res->status = VS_ERR_LIBJPEG;
	(*c->err->format_message)(c, e->res->msg);
	longjmp(e->jump, 1);
}

static void vs_output_message(j_common_ptr c) { (void)c; }

// Warnings are counted and not printed; only a premature end of data is
// fatal, as Pillow refuses truncated files.
static void vs_emit_message(j_common_ptr c, int level) {
	if (level >= 0) {
		return; // trace messages
	}
	c->err->num_warnings++;
	if (c->err->msg_code == JWRN_JPEG_EOF) {
		vs_err *e = (vs_err *)c->err;
		e->res->status = VS_ERR_TRUNCATED;
		(*c->err->format_message)(c, e->res->msg);
		longjmp(e->jump, 1);
	}
}

// vs_progress refuses files of more than max_scans scans, as TurboJPEG's
// TJFLAG_LIMITSCANS: libjpeg calls it while absorbing a multi-scan file.
static void vs_progress(j_common_ptr c) {
	if (!c->is_decompressor) {
		return;
	}
	vs_err *e = (vs_err *)c->err;
	if (((j_decompress_ptr)c)->input_scan_number > e->max_scans) {
		e->res->status = VS_ERR_SCANS;
		snprintf(e->res->msg, JMSG_LENGTH_MAX, "JPEG image has more than %d scans", e->max_scans);
		longjmp(e->jump, 1);
	}
}

// vs_setup prepares the error manager; the caller then calls setjmp and
// vs_create.
static void vs_setup(struct jpeg_decompress_struct *d, vs_err *e, vs_result *res, int max_scans) {
	memset(res, 0, sizeof(*res));
	memset(d, 0, sizeof(*d));
	d->err = jpeg_std_error(&e->pub);
	e->pub.error_exit = vs_error_exit;
	e->pub.output_message = vs_output_message;
	e->pub.emit_message = vs_emit_message;
	e->progress.progress_monitor = vs_progress;
	e->max_scans = max_scans;
	e->res = res;
}

// vs_create creates the decompressor and reads the header.
static void vs_create(struct jpeg_decompress_struct *d, vs_err *e, const unsigned char *buf, unsigned long len) {
	jpeg_create_decompress(d); // clears everything but err
	d->progress = &e->progress;
	jpeg_mem_src(d, buf, len);
	jpeg_read_header(d, TRUE);
	vs_result *r = e->res;
	r->width = d->image_width;
	r->height = d->image_height;
	r->components = d->num_components;
	r->color_space = d->jpeg_color_space;
	r->precision = d->data_precision;
	r->progressive = d->progressive_mode;
	r->arithmetic = d->arith_code;
	r->adobe = d->saw_Adobe_marker;
	for (int c = 0; c < d->num_components && c < 4; c++) {
		r->h_samp[c] = d->comp_info[c].h_samp_factor;
		r->v_samp[c] = d->comp_info[c].v_samp_factor;
	}
}

static void vs_fail(vs_err *e, const char *msg) {
	e->res->status = VS_ERR_CALL;
	snprintf(e->res->msg, JMSG_LENGTH_MAX, "%s", msg);
	longjmp(e->jump, 1);
}

static vs_result vs_read_header(const unsigned char *buf, unsigned long len) {
	vs_result res;
	struct jpeg_decompress_struct d;
	vs_err e;
	vs_setup(&d, &e, &res, 0x7fffffff);
	if (setjmp(e.jump) == 0) {
		vs_create(&d, &e, buf, len);
	}
	res.warnings = e.pub.num_warnings;
	jpeg_destroy_decompress(&d);
	return res;
}

static void vs_options_apply(struct jpeg_decompress_struct *d, vs_options *o) {
	d->scale_num = o->scale_num;
	d->scale_denom = o->scale_denom;
	d->dct_method = (J_DCT_METHOD)o->dct_method;
	d->do_fancy_upsampling = o->fancy ? TRUE : FALSE;
}

// Rows handed to libjpeg per jpeg_read_scanlines call.
#define VS_ROWS 64

// vs_decode decodes buf into out, rows of stride bytes, with colour
// conversion and upsampling: the output libjpeg gives applications.
static vs_result vs_decode(const unsigned char *buf, unsigned long len, vs_options o,
		unsigned char *out, long stride, unsigned long outlen) {
	vs_result res;
	struct jpeg_decompress_struct d;
	vs_err e;
	vs_setup(&d, &e, &res, o.max_scans);
	if (setjmp(e.jump) == 0) {
		vs_create(&d, &e, buf, len);
		vs_options_apply(&d, &o);
		d.out_color_space = (J_COLOR_SPACE)o.out_color_space;
		jpeg_calc_output_dimensions(&d);
		res.out_width = d.output_width;
		res.out_height = d.output_height;
		res.out_components = d.out_color_components;
		unsigned long row = (unsigned long)d.output_width * d.out_color_components;
		if (d.output_height == 0 || row == 0 || out == NULL || stride < 0 || row > (unsigned long)stride ||
				outlen < row || (unsigned long)(d.output_height - 1) > (outlen - row) / (unsigned long)stride) {
			vs_fail(&e, "output buffer too small");
		}
		jpeg_start_decompress(&d);
		JSAMPROW rows[VS_ROWS];
		while (d.output_scanline < d.output_height) {
			JDIMENSION y = d.output_scanline;
			int n = 0;
			for (; n < VS_ROWS && y + n < d.output_height; n++) {
				rows[n] = out + (size_t)(y + n) * stride;
			}
			if (jpeg_read_scanlines(&d, rows, n) == 0) {
				vs_fail(&e, "suspended reading scanlines");
			}
		}
		// Reads up to EOI, so that a file cut after its last scan's data
		// counts as truncated here too.
		jpeg_finish_decompress(&d);
	}
	res.warnings = e.pub.num_warnings;
	jpeg_destroy_decompress(&d);
	return res;
}

// vs_decode_planes decodes the components of buf as libjpeg's raw data (no
// upsampling, no colour conversion) and copies component c, cropped to w×h,
// into planes[c] (stride w) where planes[c] is not NULL; components without
// a plane are not inverse transformed.
static vs_result vs_decode_planes(const unsigned char *buf, unsigned long len, vs_options o,
		unsigned char *p0, unsigned char *p1, unsigned char *p2, int w, int h) {
	vs_result res;
	struct jpeg_decompress_struct d;
	vs_err e;
	// Assigned after setjmp and freed after longjmp: volatile.
	unsigned char *volatile scratch = NULL;
	JSAMPROW *volatile rows = NULL;
	unsigned char *planes[3] = {p0, p1, p2};
	vs_setup(&d, &e, &res, o.max_scans);
	if (setjmp(e.jump) == 0) {
		vs_create(&d, &e, buf, len);
		int n = d.num_components;
		if (n > 3) {
			char msg[64];
			snprintf(msg, sizeof msg, "%d components, at most 3 as planes", n);
			vs_fail(&e, msg);
		}
		for (int c = n; c < 3; c++) {
			if (planes[c] != NULL) {
				vs_fail(&e, "a plane for a component the image does not have");
			}
		}
		vs_options_apply(&d, &o);
		d.raw_data_out = TRUE;
		jpeg_start_decompress(&d);
		res.out_width = d.output_width;
		res.out_height = d.output_height;
		res.out_components = n;
		// One iMCU row of every component.
		size_t off[3], total = 0;
		int nrows[3], width[3], allrows = 0;
		for (int c = 0; c < n; c++) {
			jpeg_component_info *ci = &d.comp_info[c];
			nrows[c] = ci->v_samp_factor * VS_DCT_V(ci);
			width[c] = ci->width_in_blocks * VS_DCT_H(ci);
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
			vs_fail(&e, "out of memory");
		}
		JSAMPARRAY arrays[3];
		for (int c = 0, k = 0; c < n; c++) {
			arrays[c] = &rows[k];
			for (int r = 0; r < nrows[c]; r++, k++) {
				rows[k] = scratch + off[c] + (size_t)r * width[c];
			}
		}
		int lines = d.max_v_samp_factor * VS_MIN_DCT_V(&d);
		for (unsigned int iy = 0; iy < d.total_iMCU_rows; iy++) {
			if (jpeg_read_raw_data(&d, arrays, lines) == 0) {
				vs_fail(&e, "suspended reading raw data");
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
		jpeg_finish_decompress(&d);
	}
	res.warnings = e.pub.num_warnings;
	free(scratch);
	free(rows);
	jpeg_destroy_decompress(&d);
	return res;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// DefaultMaxScans is the most scans a file may have unless
// Options.MaxScans says otherwise: TurboJPEG's TJFLAG_LIMITSCANS limit.
const DefaultMaxScans = 500

// Errors wrapped by *Error.
var (
	// ErrTruncated is wrapped by the error for data that ends before the
	// image does (libjpeg's "Premature end of JPEG file").
	ErrTruncated = errors.New("jpeg: premature end of data")
	// ErrTooManyScans is wrapped by the error for a progressive or
	// multi-scan file of more than Options.MaxScans scans.
	ErrTooManyScans = errors.New("jpeg: too many scans")
)

// Error is a decoding error: libjpeg's, or this package's for what it
// checks itself (scans, buffer sizes).
type Error struct {
	// Msg is libjpeg's message, such as "Bogus DQT index 15", or this
	// package's.
	Msg   string
	cause error
	own   bool // the error is this package's, not libjpeg's
}

func (e *Error) Error() string {
	if e.own {
		return "jpeg: " + e.Msg
	}
	return "libjpeg: " + e.Msg
}

// Unwrap returns ErrTruncated, ErrTooManyScans or nil.
func (e *Error) Unwrap() error { return e.cause }

// ColorSpace is a JPEG colour space, numbered as libjpeg's J_COLOR_SPACE.
type ColorSpace int

// Colour spaces.
const (
	Unknown ColorSpace = iota
	Gray
	RGB
	YCbCr
	CMYK
	YCCK
)

func (c ColorSpace) String() string {
	switch c {
	case Gray:
		return "gray"
	case RGB:
		return "RGB"
	case YCbCr:
		return "YCbCr"
	case CMYK:
		return "CMYK"
	case YCCK:
		return "YCCK"
	}
	return "unknown"
}

// DCTMethod is libjpeg's inverse DCT algorithm (J_DCT_METHOD).
type DCTMethod int

// Inverse DCT methods.
const (
	// DCTISlow is the accurate integer IDCT, libjpeg's default and
	// Pillow's.
	DCTISlow DCTMethod = iota
	// DCTIFast is the fast, less accurate integer IDCT.
	DCTIFast
	// DCTFloat is the floating-point IDCT, which ImageMagick selects and
	// Meta's PDQ tool therefore sees.
	DCTFloat
)

// Sampling is a component's sampling factors.
type Sampling struct{ H, V int }

// Header describes a JPEG from its frame header, as libjpeg reads it.
type Header struct {
	Width, Height int
	// Components is the number of colour components (1, 3 or 4 usually).
	Components int
	// ColorSpace is the stored colour space as libjpeg infers it from the
	// JFIF and Adobe markers.
	ColorSpace ColorSpace
	// Precision is the sample precision in bits (8 for decodable files).
	Precision int
	// Progressive and Arithmetic report the coding process.
	Progressive, Arithmetic bool
	// Adobe reports an Adobe APP14 marker.
	Adobe bool
	// Sampling holds the sampling factors of the first four components.
	Sampling [4]Sampling
}

// Info describes a decoded image.
type Info struct {
	Header
	// OutWidth and OutHeight are the size of the decoded pixels, after
	// DCT-domain scaling; OutComponents is the number of samples per
	// pixel (Decode) or the file's number of components, with a plane or
	// not (DecodePlanes).
	OutWidth, OutHeight, OutComponents int
	// Warnings counts libjpeg's warnings: corrupt data it went on from.
	Warnings int
}

// Options controls decoding. The zero value decodes at full size to RGB
// with the accurate integer IDCT and fancy upsampling: libjpeg's defaults
// and Pillow's pixels.
type Options struct {
	// ScaleNum/ScaleDenom scales the image in the DCT domain; libjpeg
	// rounds the factor up to the next k/8 (k = 1 to 16), as TurboJPEG's
	// scaling factors. Zero means 1/1; at most 2/1.
	ScaleNum, ScaleDenom int
	// DCT is the inverse DCT method.
	DCT DCTMethod
	// Out is the colour space Decode converts to: RGB (3 bytes per
	// pixel), Gray (1 byte: the luma of a YCbCr file) or CMYK (4 bytes:
	// the stored samples of a CMYK or YCCK file, which libjpeg-turbo 2
	// does not convert to RGB). Zero means RGB.
	// DecodePlanes ignores it.
	Out ColorSpace
	// NoFancyUpsampling replicates subsampled chroma instead of libjpeg's
	// triangle filter.
	NoFancyUpsampling bool
	// MaxScans limits the scans of a progressive or multi-scan file; zero
	// means DefaultMaxScans.
	MaxScans int
}

// Scaled returns the size n pixels take scaled by num/denom in the DCT
// domain, as libjpeg computes it: the factor rounded up to the next k/8,
// then n·k/8 rounded up. It is TurboJPEG's TJSCALED for its factors.
func Scaled(n, num, denom int) int {
	if num <= 0 || denom <= 0 {
		return n
	}
	k := 1
	for k < 16 && num*8 > denom*k {
		k++
	}
	return (n*k + 7) / 8
}

// OutputSize returns the size Decode gives an image of header h.
func (o *Options) OutputSize(h Header) (width, height int) {
	return Scaled(h.Width, o.ScaleNum, o.ScaleDenom), Scaled(h.Height, o.ScaleNum, o.ScaleDenom)
}

func (o *Options) c() (C.vs_options, error) {
	num, den := o.ScaleNum, o.ScaleDenom
	if num == 0 && den == 0 {
		num, den = 1, 1
	}
	if num <= 0 || den <= 0 || num > 2*den || den > 1<<16 {
		return C.vs_options{}, fmt.Errorf("jpeg: scale %d/%d is not a factor above 0 and at most 2/1", o.ScaleNum, o.ScaleDenom)
	}
	if o.DCT < DCTISlow || o.DCT > DCTFloat {
		return C.vs_options{}, fmt.Errorf("jpeg: unknown DCT method %d", o.DCT)
	}
	out := o.Out
	switch out {
	case Unknown:
		out = RGB
	case RGB, Gray, CMYK:
	default:
		return C.vs_options{}, fmt.Errorf("jpeg: output colour space %v not supported", out)
	}
	scans := o.MaxScans
	if scans == 0 {
		scans = DefaultMaxScans
	}
	if scans < 0 {
		return C.vs_options{}, fmt.Errorf("jpeg: MaxScans %d", o.MaxScans)
	}
	fancy := C.int(1)
	if o.NoFancyUpsampling {
		fancy = 0
	}
	return C.vs_options{
		scale_num: C.int(num), scale_denom: C.int(den),
		dct_method: C.int(o.DCT), out_color_space: C.int(out),
		fancy: fancy, max_scans: C.int(min(scans, 1<<30)),
	}, nil
}

func info(r *C.vs_result) Info {
	in := Info{
		Header: Header{
			Width:       int(r.width),
			Height:      int(r.height),
			Components:  int(r.components),
			ColorSpace:  ColorSpace(r.color_space),
			Precision:   int(r.precision),
			Progressive: r.progressive != 0,
			Arithmetic:  r.arithmetic != 0,
			Adobe:       r.adobe != 0,
		},
		OutWidth:      int(r.out_width),
		OutHeight:     int(r.out_height),
		OutComponents: int(r.out_components),
		Warnings:      int(r.warnings),
	}
	for c := range in.Sampling {
		in.Sampling[c] = Sampling{int(r.h_samp[c]), int(r.v_samp[c])}
	}
	return in
}

func resultError(r *C.vs_result) error {
	if r.status == C.VS_OK {
		return nil
	}
	msg := cString(&r.msg)
	switch r.status {
	case C.VS_ERR_TRUNCATED:
		return &Error{Msg: msg, cause: ErrTruncated}
	case C.VS_ERR_SCANS:
		return &Error{Msg: msg, cause: ErrTooManyScans, own: true}
	case C.VS_ERR_CALL:
		return &Error{Msg: msg, own: true}
	}
	return &Error{Msg: msg}
}

// cString copies libjpeg's message; unlike C.GoString it does not move the
// result it reads from to the heap on every call.
func cString(m *[C.JMSG_LENGTH_MAX]C.char) string {
	n := 0
	for n < len(m) && m[n] != 0 {
		n++
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(m[i])
	}
	return string(b)
}

var errEmpty = &Error{Msg: "empty input", cause: ErrTruncated, own: true}

// ReadHeader reads the header of a JPEG up to its first scan.
func ReadHeader(data []byte) (Header, error) {
	if len(data) == 0 {
		return Header{}, errEmpty
	}
	r := C.vs_read_header((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)))
	return info(&r).Header, resultError(&r)
}

// Decode decodes data into dst, rows of stride bytes of OutComponents
// samples per pixel, at the size opts.OutputSize gives. dst must hold the
// whole image; a too small dst is an error, found before any decoding.
func Decode(data []byte, opts Options, dst []byte, stride int) (Info, error) {
	o, err := opts.c()
	if err != nil {
		return Info{}, err
	}
	if len(data) == 0 {
		return Info{}, errEmpty
	}
	var out *C.uchar
	if len(dst) > 0 {
		out = (*C.uchar)(unsafe.Pointer(&dst[0]))
	}
	r := C.vs_decode((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), o, out, C.long(stride), C.ulong(len(dst)))
	return info(&r), resultError(&r)
}

// DecodePlanes decodes each component of data as a plane of its own,
// without upsampling or colour conversion (libjpeg's raw data), scaled in
// the DCT domain by opts. Component c, cropped to width×height, goes to
// planes[c] (stride width) where planes[c] is not nil; a nil plane skips
// that component's inverse DCT. Rows and columns a component lacks are
// left as they are. Files of more than three components are refused.
func DecodePlanes(data []byte, opts Options, planes [3][]byte, width, height int) (Info, error) {
	o, err := opts.c()
	if err != nil {
		return Info{}, err
	}
	if len(data) == 0 {
		return Info{}, errEmpty
	}
	if width <= 0 || height <= 0 || width > 1<<20 || height > 1<<20 {
		return Info{}, fmt.Errorf("jpeg: plane size %dx%d", width, height)
	}
	var p [3]*C.uchar
	for c, pl := range planes {
		if pl == nil {
			continue
		}
		if len(pl)/width < height {
			return Info{}, fmt.Errorf("jpeg: plane %d holds %d bytes, not %dx%d", c, len(pl), width, height)
		}
		p[c] = (*C.uchar)(unsafe.Pointer(&pl[0]))
	}
	r := C.vs_decode_planes((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), o,
		p[0], p[1], p[2], C.int(width), C.int(height))
	return info(&r), resultError(&r)
}
