package imgproc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Header is what Probe learns from an image's header without decoding it.
type Header struct {
	Format        string // as Info.Format
	Width, Height int
	// BytesPerPixel is the most memory per pixel the decoder of this
	// format may hold for the decoded image (before conversion to RGB);
	// for JPEG, one byte per component, or the DCT coefficients (two bytes
	// per component) that a progressive or multi-scan file keeps.
	BytesPerPixel int
}

// Probe reads the header of an encoded image. It accepts every JPEG
// process libjpeg-turbo decodes (baseline, extended, progressive,
// arithmetic-coded), which image/jpeg's DecodeConfig does not, so that
// every decoder of this module applies the same size policy.
func Probe(data []byte) (Header, error) {
	h := Header{Format: sniff(data)}
	if len(data) == 0 {
		return h, ErrEmpty
	}
	var (
		cfg image.Config
		err error
	)
	r := bytes.NewReader(data)
	switch h.Format {
	case "jpeg":
		return probeJPEG(data)
	case "png":
		cfg, err = png.DecodeConfig(r)
		h.BytesPerPixel = 4
		if len(data) > 25 && data[24] == 16 {
			h.BytesPerPixel = 8
		}
	case "gif":
		cfg, err = gif.DecodeConfig(r)
		h.BytesPerPixel = 1
	case "bmp":
		cfg, err = bmp.DecodeConfig(r)
		h.BytesPerPixel = 4
	case "tiff":
		// The TIFF decoder also holds the uncompressed strips.
		cfg, err = tiff.DecodeConfig(r)
		h.BytesPerPixel = 16
	case "webp":
		// Lossless WebP decodes to NRGBA through a uint32 ARGB buffer.
		cfg, err = webp.DecodeConfig(r)
		h.BytesPerPixel = 8
	default:
		return h, ErrUnknownFormat
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: %v", ErrTruncated, err)
		}
		return h, &FormatError{Format: h.Format, Err: err}
	}
	h.Width, h.Height = cfg.Width, cfg.Height
	if h.Width <= 0 || h.Height <= 0 {
		return h, &FormatError{Format: h.Format, Err: fmt.Errorf("invalid size %dx%d", h.Width, h.Height)}
	}
	return h, nil
}

// probeJPEG walks the JPEG markers up to the first frame header (SOFn).
func probeJPEG(data []byte) (Header, error) {
	h := Header{Format: "jpeg", BytesPerPixel: 3}
	fail := func(err error) (Header, error) { return h, &FormatError{Format: "jpeg", Err: err} }
	p := 2 // after SOI
	for {
		// Fill bytes (0xff) may precede a marker.
		for p < len(data) && data[p] == 0xff {
			p++
		}
		if p >= len(data) {
			return fail(fmt.Errorf("%w: no frame header", ErrTruncated))
		}
		if data[p-1] != 0xff {
			return fail(fmt.Errorf("expected a marker at byte %d", p))
		}
		m := data[p]
		p++
		switch {
		case m == 0xd8 || (m >= 0xd0 && m <= 0xd7) || m == 0x01:
			continue // no length
		case m == 0xd9 || m == 0xda:
			return fail(errors.New("no frame header before the image data"))
		}
		if p+2 > len(data) {
			return fail(fmt.Errorf("%w: marker 0x%02x", ErrTruncated, m))
		}
		n := int(data[p])<<8 | int(data[p+1])
		if n < 2 {
			return fail(fmt.Errorf("marker 0x%02x has length %d", m, n))
		}
		if m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc {
			if n < 8 || p+8 > len(data) {
				return fail(fmt.Errorf("%w: frame header", ErrTruncated))
			}
			h.Height = int(data[p+3])<<8 | int(data[p+4])
			h.Width = int(data[p+5])<<8 | int(data[p+6])
			// A progressive or multi-scan file keeps every coefficient (two
			// bytes per sample) until its last scan. Entropy-coded data
			// cannot hold FF DA, so counting it counts the scans.
			comps := max(int(data[p+7]), 1)
			h.BytesPerPixel = comps
			if m&3 == 2 || bytes.Count(data[p:], []byte{0xff, 0xda}) > 1 {
				h.BytesPerPixel = 2 * comps
			}
			if h.Width <= 0 || h.Height <= 0 {
				return fail(fmt.Errorf("invalid size %dx%d", h.Width, h.Height))
			}
			return h, nil
		}
		p += n
	}
}
