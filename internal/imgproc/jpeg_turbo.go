//go:build cgo

package imgproc

/*
#cgo LDFLAGS: -l:libturbojpeg.a
#include <stdlib.h>
#include <turbojpeg.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// haveTurbo reports whether JPEG goes through libjpeg-turbo.
const haveTurbo = true

// turboDecoder decodes JPEG through the TurboJPEG API of libjpeg-turbo with
// its defaults (accurate integer IDCT, fancy upsampling), which Pillow's
// libjpeg-turbo also uses, so full-size output matches Pillow's pixels.
// TJFLAG_LIMITSCANS refuses progressive JPEGs of more than 500 scans, a
// cheap way to make a tiny file cost minutes of CPU.
type turboDecoder struct {
	h       C.tjhandle
	factors []C.tjscalingfactor
	cmyk    []uint8 // scratch for CMYK JPEGs
	// hdr receives width, height, subsampling and colour space; a field so
	// that taking its address does not allocate per image.
	hdr [4]C.int
}

func newTurboDecoder() *turboDecoder {
	h := C.tjInitDecompress()
	if h == nil {
		return nil // fall back to image/jpeg
	}
	d := &turboDecoder{h: h}
	var n C.int
	if p := C.tjGetScalingFactors(&n); p != nil && n > 0 {
		d.factors = unsafe.Slice(p, int(n))
	}
	return d
}

// reset replaces the handle. libjpeg-turbo 2.x keeps state from a failed
// call in its handle (a half-read DQT or DHT marker, the error flag), and
// every later image on that handle then fails ("Bogus DQT index"), so one
// corrupt file would poison its worker. A fresh handle costs a few µs.
func (d *turboDecoder) reset() {
	if d.h != nil {
		C.tjDestroy(d.h)
	}
	d.h = C.tjInitDecompress() // nil (out of memory) is retried on next use
}

func (d *turboDecoder) close() {
	if d.h != nil {
		C.tjDestroy(d.h)
		d.h = nil
	}
}

func (d *turboDecoder) errorString() string {
	return C.GoString(C.tjGetErrorStr2(d.h))
}

// scaled returns TJSCALED(n, f).
func scaled(n int, f C.tjscalingfactor) int {
	num, den := int(f.num), int(f.denom)
	return (n*num + den - 1) / den
}

// decode decodes data into dst. It always decodes (true) or fails. After any
// error or warning the handle is replaced, so that nothing of one file can
// affect the next.
func (d *turboDecoder) decode(data []byte, dst *RGB, info *Info, minSide, maxPixels int) (ok bool, err error) {
	if d.h == nil {
		if d.reset(); d.h == nil {
			return false, &FormatError{Format: "jpeg", Err: errors.New("libjpeg-turbo: cannot allocate a decoder")}
		}
	}
	dirty := false
	defer func() {
		if err != nil || dirty {
			d.reset()
		}
	}()
	fail := func(err error) (bool, error) { return false, &FormatError{Format: "jpeg", Err: err} }
	src := (*C.uchar)(unsafe.Pointer(&data[0]))
	// TurboJPEG reports success without touching the outputs for a stream
	// that ends before its frame header (libjpeg's "tables only"), so
	// start from zero.
	d.hdr = [4]C.int{}
	if C.tjDecompressHeader3(d.h, src, C.ulong(len(data)), &d.hdr[0], &d.hdr[1], &d.hdr[2], &d.hdr[3]) != 0 {
		return fail(fmt.Errorf("%s", d.errorString()))
	}
	w, h, cs := d.hdr[0], d.hdr[1], d.hdr[3]
	info.Width, info.Height = int(w), int(h)
	if w <= 0 || h <= 0 {
		return fail(fmt.Errorf("%w: no frame header", ErrTruncated))
	}
	if int64(w)*int64(h) > int64(maxPixels) {
		return fail(fmt.Errorf("%w: %dx%d pixels", ErrTooLarge, w, h))
	}
	cmyk := cs == C.TJCS_CMYK || cs == C.TJCS_YCCK
	sw, sh := int(w), int(h)
	if minSide > 0 {
		for _, f := range d.factors {
			// Only factors up to 1/2: libjpeg-turbo has SIMD IDCTs for 1/1,
			// 1/2 and 1/4 only, and the plain-C 5/8..7/8 IDCTs cost more than
			// they save.
			if 2*f.num > f.denom {
				continue
			}
			x, y := scaled(int(w), f), scaled(int(h), f)
			if x >= minSide && y >= minSide && x*y < sw*sh {
				sw, sh = x, y
			}
		}
	}
	var rc C.int
	if cmyk {
		// libjpeg gives the stored CMYK samples; Pillow inverts those of
		// Adobe files ("CMYK;I") and then applies its cmyk2rgb.
		n := 4 * sw * sh
		if cap(d.cmyk) < n {
			d.cmyk = make([]uint8, n)
		}
		buf := d.cmyk[:n]
		rc = C.tjDecompress2(d.h, src, C.ulong(len(data)), (*C.uchar)(unsafe.Pointer(&buf[0])),
			C.int(sw), C.int(4*sw), C.int(sh), C.TJPF_CMYK, C.TJFLAG_LIMITSCANS)
		if rc == 0 || C.tjGetErrorCode(d.h) == C.TJERR_WARNING {
			cmykToRGB(dst, buf, sw, sh, jpegAdobe(data))
		}
	} else {
		dst.reshape(sw, sh)
		rc = C.tjDecompress2(d.h, src, C.ulong(len(data)), (*C.uchar)(unsafe.Pointer(&dst.Pix[0])),
			C.int(sw), C.int(dst.Stride), C.int(sh), C.TJPF_RGB, C.TJFLAG_LIMITSCANS)
	}
	runtime.KeepAlive(data)
	if rc != 0 {
		dirty = true
		msg := d.errorString()
		// libjpeg's warnings are not fatal, as in Pillow, except a premature
		// end of data: Pillow refuses truncated files. TurboJPEG 2.x keeps
		// the text of a warning in one buffer shared by all handles (another
		// thread may have overwritten it), so the file itself is checked.
		if C.tjGetErrorCode(d.h) == C.TJERR_WARNING {
			if jpegTruncated(data) {
				return fail(fmt.Errorf("%w: Premature end of JPEG file", ErrTruncated))
			}
		} else {
			return fail(fmt.Errorf("%s", msg))
		}
	}
	return true, nil
}
