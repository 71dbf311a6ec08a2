package imgproc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// DefaultMaxPixels is the default limit on width×height of an image to
// decode; it is Pillow's decompression-bomb error threshold.
const DefaultMaxPixels = 178956970

// Errors returned for input that is not a decodable image. Errors about a
// specific format are *FormatError values that wrap these or the decoder's
// own error.
var (
	// ErrEmpty is returned for zero-length input.
	ErrEmpty = errors.New("imgproc: empty input")
	// ErrUnknownFormat is returned when the data starts with no signature of
	// a supported format (JPEG, PNG, GIF, BMP, TIFF, WebP).
	ErrUnknownFormat = errors.New("imgproc: unknown image format")
	// ErrTooLarge is returned when an image has more pixels than allowed.
	ErrTooLarge = errors.New("image too large")
	// ErrTruncated is returned for a JPEG that ends before its last scan.
	ErrTruncated = errors.New("truncated data")
)

// FormatError reports an image that could not be decoded.
type FormatError struct {
	Format string // "jpeg", "png", "gif", "bmp", "tiff" or "webp"
	Err    error
}

func (e *FormatError) Error() string { return "imgproc: invalid " + e.Format + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *FormatError) Unwrap() error { return e.Err }

// Info describes a decoded image.
type Info struct {
	// Format is the detected format: "jpeg", "png", "gif", "bmp", "tiff" or
	// "webp".
	Format string
	// Width and Height are the image's stored size in pixels, before any
	// DCT-domain scaling or EXIF orientation.
	Width, Height int
	// Orientation is the EXIF orientation tag (1 to 8) of a JPEG, 1 when
	// absent or invalid. It is applied only with AutoOrient.
	Orientation int
	// DecodedWidth and DecodedHeight are the size of the decoded pixels, as
	// resized (after DCT-domain scaling and orientation).
	DecodedWidth, DecodedHeight int
}

// DecodeOptions controls Decoder.Decode.
type DecodeOptions struct {
	// MinSide, when positive, lets a JPEG be decoded with DCT-domain
	// downscaling (libjpeg-turbo builds only; scales 1/2 down to 1/8) to the
	// smallest scale whose width and height are both at least MinSide. Zero
	// decodes at full size, as the reference does.
	MinSide int
	// AutoOrient applies the EXIF orientation of a JPEG, as Pillow's
	// ImageOps.exif_transpose. The reference does not.
	AutoOrient bool
	// MaxPixels limits width×height; zero means DefaultMaxPixels.
	MaxPixels int
}

// sniff returns the format named by the data's signature, or "".
func sniff(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff:
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif"
	case bytes.HasPrefix(b, []byte("BM")):
		return "bmp"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return "tiff"
	case len(b) >= 12 && bytes.Equal(b[:4], []byte("RIFF")) && bytes.Equal(b[8:12], []byte("WEBP")):
		return "webp"
	}
	return ""
}

// Decoder decodes images to RGB as Pillow's Image.open(...).convert('RGB')
// does. It keeps scratch buffers (Go memory) between images; every JPEG is
// decoded on a fresh libjpeg decompressor (internal/jpeg), so it holds no
// native resources. It is not safe for concurrent use. The zero value is
// not usable; call NewDecoder.
type Decoder struct {
	jpeg  *jpegDecoder // nil in pure-Go builds
	tmp   RGB          // scratch for orientation
	ready bool
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	return &Decoder{jpeg: newJPEGDecoder(), ready: true}
}

// Close drops the Decoder's scratch buffers; Decode fails after it. It is
// safe to call twice.
func (d *Decoder) Close() error {
	d.jpeg = nil
	d.tmp = RGB{}
	d.ready = false
	return nil
}

// Decode decodes data into dst, reusing dst's memory, and describes it.
func (d *Decoder) Decode(data []byte, dst *RGB, opts DecodeOptions) (Info, error) {
	if !d.ready {
		return Info{}, errors.New("imgproc: Decoder used after Close")
	}
	if len(data) == 0 {
		return Info{}, ErrEmpty
	}
	maxPixels := opts.MaxPixels
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	info := Info{Format: sniff(data), Orientation: 1}
	if info.Format == "" {
		return info, ErrUnknownFormat
	}
	if info.Format == "jpeg" {
		info.Orientation = jpegOrientation(data)
	}
	var err error
	if info.Format == "jpeg" && d.jpeg != nil {
		err = d.jpeg.decode(data, dst, &info, opts.MinSide, maxPixels)
	} else {
		err = decodeGo(data, dst, &info, maxPixels)
	}
	if err != nil {
		return info, err
	}
	if opts.AutoOrient && info.Orientation != 1 {
		d.tmp.reshape(dst.Rect.Dx(), dst.Rect.Dy())
		copy(d.tmp.Pix, dst.Pix)
		orient(dst, &d.tmp, info.Orientation)
	}
	info.DecodedWidth, info.DecodedHeight = dst.Rect.Dx(), dst.Rect.Dy()
	if cap(d.tmp.Pix) > retainMax {
		d.tmp = RGB{}
	}
	if d.jpeg != nil && cap(d.jpeg.cmyk) > retainMax {
		d.jpeg.cmyk = nil
	}
	return info, nil
}

// Decode decodes an image at full size, without EXIF orientation, as the
// reference does. It allocates; use a Decoder for many images.
func Decode(data []byte) (*RGB, Info, error) {
	d := NewDecoder()
	defer d.Close()
	m := new(RGB)
	info, err := d.Decode(data, m, DecodeOptions{})
	if err != nil {
		return nil, info, err
	}
	return m, info, nil
}

// decodeGo decodes with the Go image decoders.
func decodeGo(data []byte, dst *RGB, info *Info, maxPixels int) (err error) {
	fail := func(err error) error {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: %v", ErrTruncated, err)
		}
		return &FormatError{Format: info.Format, Err: err}
	}
	// The x/image decoders have panicked on hostile input in the past; no
	// input may crash the caller.
	defer func() {
		if r := recover(); r != nil {
			err = fail(fmt.Errorf("decoder panic: %v", r))
		}
	}()
	var (
		cfg    image.Config
		decode func(io.Reader) (image.Image, error)
	)
	r := bytes.NewReader(data)
	switch info.Format {
	case "jpeg":
		cfg, err = jpeg.DecodeConfig(r)
		decode = jpeg.Decode
	case "png":
		cfg, err = png.DecodeConfig(r)
		decode = png.Decode
	case "gif":
		cfg, err = gif.DecodeConfig(r)
		decode = gif.Decode // first frame
	case "bmp":
		cfg, err = bmp.DecodeConfig(r)
		decode = bmp.Decode
	case "tiff":
		cfg, err = tiff.DecodeConfig(r)
		decode = tiff.Decode
	case "webp":
		cfg, err = webp.DecodeConfig(r)
		decode = webp.Decode
	default:
		return ErrUnknownFormat
	}
	if err != nil {
		return fail(err)
	}
	info.Width, info.Height = cfg.Width, cfg.Height
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return fail(fmt.Errorf("invalid size %dx%d", cfg.Width, cfg.Height))
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return fail(fmt.Errorf("%w: %dx%d pixels", ErrTooLarge, cfg.Width, cfg.Height))
	}
	m, err := decode(bytes.NewReader(data))
	if err != nil {
		return fail(err)
	}
	b := m.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return fail(fmt.Errorf("invalid size %dx%d", b.Dx(), b.Dy()))
	}
	switch y := m.(type) {
	case *image.YCbCr:
		if info.Format == "jpeg" {
			jpegYCbCrToRGB(dst, y)
			return nil
		}
		if info.Format == "webp" && y.SubsampleRatio == image.YCbCrSubsampleRatio420 {
			webpToRGB(dst, y)
			return nil
		}
	case *image.NYCbCrA: // lossy WebP with alpha: alpha is dropped
		if info.Format == "webp" && y.SubsampleRatio == image.YCbCrSubsampleRatio420 {
			webpToRGB(dst, &y.YCbCr)
			return nil
		}
	}
	toRGB(dst, m)
	return nil
}

// ToRGB converts any image to RGB as Pillow's convert('RGB') does: alpha is
// dropped (not composited), palettes are looked up ignoring transparency,
// gray is replicated, 16-bit colour keeps the high byte and 16-bit gray is
// clipped to 255 (Pillow's "I" to "RGB" conversion).
func ToRGB(m image.Image) *RGB {
	dst := new(RGB)
	toRGB(dst, m)
	return dst
}

func toRGB(dst *RGB, m image.Image) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	dst.reshape(w, h)
	switch m := m.(type) {
	case *RGB:
		for y := 0; y < h; y++ {
			copy(dst.row(y), m.row(y))
		}
	case *image.YCbCr:
		ycbcrToRGB(dst, m)
	case *image.Gray:
		for y := 0; y < h; y++ {
			src := m.Pix[y*m.Stride : y*m.Stride+w]
			d := dst.row(y)
			for x, v := range src {
				d[3*x], d[3*x+1], d[3*x+2] = v, v, v
			}
		}
	case *image.Gray16:
		for y := 0; y < h; y++ {
			src := m.Pix[y*m.Stride : y*m.Stride+2*w]
			d := dst.row(y)
			for x := 0; x < w; x++ {
				v := uint8(255)
				if src[2*x] == 0 {
					v = src[2*x+1]
				}
				d[3*x], d[3*x+1], d[3*x+2] = v, v, v
			}
		}
	case *image.NRGBA:
		copy4(dst, m.Pix, m.Stride, w, h, 1)
	case *image.RGBA:
		copy4(dst, m.Pix, m.Stride, w, h, 1)
	case *image.NRGBA64:
		copy4(dst, m.Pix, m.Stride, w, h, 2)
	case *image.RGBA64:
		copy4(dst, m.Pix, m.Stride, w, h, 2)
	case *image.CMYK:
		if m.Stride == 4*w {
			cmykToRGB(dst, m.Pix, w, h, false)
			break
		}
		for y := 0; y < h; y++ {
			cmykToRGB(&RGB{Pix: dst.row(y), Stride: 3 * w}, m.Pix[y*m.Stride:y*m.Stride+4*w], w, 1, false)
		}
	case *image.Paletted:
		var pal [256][3]uint8
		for i, c := range m.Palette {
			if i == 256 {
				break
			}
			pal[i] = straightRGB(c)
		}
		for y := 0; y < h; y++ {
			src := m.Pix[y*m.Stride : y*m.Stride+w]
			d := dst.row(y)
			for x, i := range src {
				p := pal[i]
				d[3*x], d[3*x+1], d[3*x+2] = p[0], p[1], p[2]
			}
		}
	default:
		for y := 0; y < h; y++ {
			d := dst.row(y)
			for x := 0; x < w; x++ {
				p := straightRGB(m.At(b.Min.X+x, b.Min.Y+y))
				d[3*x], d[3*x+1], d[3*x+2] = p[0], p[1], p[2]
			}
		}
	}
}

// cmykToRGB converts packed CMYK samples, inverted first when invert is
// set, as Pillow's cmyk2rgb.
func cmykToRGB(dst *RGB, pix []uint8, w, h int, invert bool) {
	dst.reshape(w, h)
	var x8 uint8
	if invert {
		x8 = 0xff
	}
	for y := 0; y < h; y++ {
		src := pix[4*w*y : 4*w*(y+1)]
		d := dst.row(y)
		for x := 0; x < w; x++ {
			c := src[4*x : 4*x+4 : 4*x+4]
			nk := 255 - int(c[3]^x8)
			d[3*x] = cmykChannel(c[0]^x8, nk)
			d[3*x+1] = cmykChannel(c[1]^x8, nk)
			d[3*x+2] = cmykChannel(c[2]^x8, nk)
		}
	}
}

// cmykChannel is Pillow's cmyk2rgb for one channel: nk - c*nk/255, rounded.
func cmykChannel(c uint8, nk int) uint8 {
	t := int(c)*nk + 128
	return uint8(nk - ((t>>8)+t)>>8)
}

// straightRGB returns the non-premultiplied colour channels of c.
func straightRGB(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.RGBA:
		if c.A == 0xff || c.A == 0 {
			return [3]uint8{c.R, c.G, c.B}
		}
	case color.Gray:
		return [3]uint8{c.Y, c.Y, c.Y}
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]uint8{n.R, n.G, n.B}
}

// copy4 copies the first three channels of 4-channel pixels of size bytes
// per sample (1 or 2, big-endian: the high byte is kept).
func copy4(dst *RGB, pix []uint8, stride, w, h, size int) {
	for y := 0; y < h; y++ {
		src := pix[y*stride : y*stride+4*size*w]
		d := dst.row(y)
		for x := 0; x < w; x++ {
			s := src[4*size*x:]
			d[3*x], d[3*x+1], d[3*x+2] = s[0], s[size], s[2*size]
		}
	}
}

// ycbcrToRGB converts Go's decoded JPEG or WebP planes, replicating chroma
// samples (no fancy upsampling).
func ycbcrToRGB(dst *RGB, m *image.YCbCr) {
	b := m.Rect
	w, h := b.Dx(), b.Dy()
	var hs, vs int
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	case image.YCbCrSubsampleRatio411:
		hs = 2
	case image.YCbCrSubsampleRatio410:
		hs, vs = 2, 1
	}
	cx0 := b.Min.X >> hs
	cy0 := b.Min.Y >> vs
	for y := 0; y < h; y++ {
		yrow := m.Y[y*m.YStride : y*m.YStride+w]
		ci := (((b.Min.Y+y)>>vs)-cy0)*m.CStride - cx0
		d := dst.row(y)
		for x, yy := range yrow {
			j := ci + ((b.Min.X + x) >> hs)
			r, g, bb := color.YCbCrToRGB(yy, m.Cb[j], m.Cr[j])
			d[3*x], d[3*x+1], d[3*x+2] = r, g, bb
		}
	}
}
