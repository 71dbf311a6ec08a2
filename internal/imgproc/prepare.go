package imgproc

import "fmt"

// Side is the width and height of the NeuralHash input.
const Side = 360

// TensorLen is the number of float32 values of one prepared image:
// 3 channels × Side × Side, in NCHW order.
const TensorLen = 3 * Side * Side

// Options controls a Preparer.
type Options struct {
	// Exact decodes at full size and resizes from there, as the reference
	// does. When false (the fast path), JPEGs at least twice Side on both
	// sides are decoded with DCT-domain downscaling (1/2 to 1/8) to the
	// smallest scale keeping both sides ≥ Side, then resized the same way.
	Exact bool
	// AutoOrient applies the EXIF orientation of JPEGs before resizing.
	AutoOrient bool
	// MaxPixels limits width×height of input images; zero means
	// DefaultMaxPixels.
	MaxPixels int
}

// Preparer turns encoded images into NeuralHash input tensors:
// decode to RGB, resize to 360×360 with Pillow's bicubic filter, scale to
// [-1, 1], NCHW float32. It reuses its buffers between calls and is not
// safe for concurrent use: use one Preparer per goroutine, and Close it.
type Preparer struct {
	opts  Options
	dec   *Decoder
	rs    Resizer
	img   RGB
	small *RGB
}

// NewPreparer returns a Preparer with the given options.
func NewPreparer(opts Options) *Preparer {
	return &Preparer{opts: opts, dec: NewDecoder(), small: NewRGB(Side, Side)}
}

// Close closes the Preparer's Decoder: later calls fail. A Preparer holds
// no native resources, so one that is never closed leaks nothing.
func (p *Preparer) Close() error {
	return p.dec.Close()
}

// PrepareRGB decodes data and resizes it to Side×Side. The returned image
// is owned by p and valid until the next call.
func (p *Preparer) PrepareRGB(data []byte) (*RGB, Info, error) {
	opts := DecodeOptions{AutoOrient: p.opts.AutoOrient, MaxPixels: p.opts.MaxPixels}
	if !p.opts.Exact {
		opts.MinSide = Side
	}
	info, err := p.dec.Decode(data, &p.img, opts)
	if err != nil {
		if cap(p.img.Pix) > retainMax {
			p.img = RGB{}
		}
		return nil, info, err
	}
	err = p.rs.Resize(p.small, &p.img)
	if cap(p.img.Pix) > retainMax {
		p.img = RGB{} // a large image's pixels are not kept for the next
	}
	if err != nil {
		return nil, info, err
	}
	return p.small, info, nil
}

// Prepare decodes data, resizes it to Side×Side and writes the NCHW tensor
// scaled to [-1, 1] into dst, which must hold TensorLen values.
func (p *Preparer) Prepare(data []byte, dst []float32) (Info, error) {
	if len(dst) < TensorLen {
		return Info{}, fmt.Errorf("imgproc: tensor buffer holds %d values, want %d", len(dst), TensorLen)
	}
	m, info, err := p.PrepareRGB(data)
	if err != nil {
		return info, err
	}
	return info, ToTensor(dst, m)
}

// unitScale maps a sample v to v/255*2-1 computed in float32, as the
// reference's numpy code does.
var unitScale = func() (t [256]float32) {
	for v := range t {
		s := float32(float32(v) / 255)
		t[v] = float32(s*2) - 1
	}
	return t
}()

// ToTensor writes m, which must be Side×Side, into dst as NCHW float32
// scaled to [-1, 1].
func ToTensor(dst []float32, m *RGB) error {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	if w != Side || h != Side {
		return fmt.Errorf("imgproc: tensor needs a %dx%d image, got %dx%d", Side, Side, w, h)
	}
	if len(dst) < TensorLen {
		return fmt.Errorf("imgproc: tensor buffer holds %d values, want %d", len(dst), TensorLen)
	}
	const plane = Side * Side
	r := dst[0*plane : 1*plane]
	g := dst[1*plane : 2*plane]
	b := dst[2*plane : 3*plane]
	for y := 0; y < Side; y++ {
		row := m.row(y)[:3*Side]
		o := y * Side
		rr, gg, bb := r[o:o+Side], g[o:o+Side], b[o:o+Side]
		for x := range rr {
			p := row[3*x : 3*x+3 : 3*x+3]
			rr[x] = unitScale[p[0]]
			gg[x] = unitScale[p[1]]
			bb[x] = unitScale[p[2]]
		}
	}
	return nil
}
