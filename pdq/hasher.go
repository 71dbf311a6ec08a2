package pdq

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // PDQ input formats for FromBytes
	_ "image/jpeg" // (the reference decodes JPEG, PNG and GIF too)
	_ "image/png"
	"math"
	"slices"

	"github.com/vouchsafe/vouchsafe/internal/imgproc"
)

// MinDim is the smallest width and height PDQ hashes; the reference returns
// an all-zero hash with quality 0 below it, and this package an error.
const MinDim = 5

// MaxPixels bounds the size of an encoded image that FromBytes and
// Hasher.HashBytes decode, to refuse decompression bombs. It is the
// NeuralHash decoder's limit: both hashes share one decode policy.
const MaxPixels = imgproc.DefaultMaxPixels

// Errors returned (wrapped, with the offending sizes) by the hashing
// functions.
var (
	ErrTooSmall = errors.New("pdq: image too small to hash")
	ErrTooLarge = errors.New("pdq: image too large")
)

// Transform names one of the eight dihedral transforms of an image, in the
// order of the reference's pdqDihedralHash256esFromFloatLuma and of the
// array Dihedral returns. The names are Meta's: FlipX mirrors top and bottom
// (about the x axis), FlipY mirrors left and right, FlipPlus1 transposes
// (mirrors about the main diagonal) and FlipMinus1 mirrors about the
// anti-diagonal; Rotate90 is a quarter turn counter-clockwise.
type Transform int

// The dihedral transforms.
const (
	Original Transform = iota
	Rotate90
	Rotate180
	Rotate270
	FlipX
	FlipY
	FlipPlus1
	FlipMinus1
)

var transformNames = [8]string{"original", "rotate90", "rotate180", "rotate270", "flipx", "flipy", "flipplus1", "flipminus1"}

// String returns the transform's name as in Meta's tools ("rotate90", ...).
func (t Transform) String() string {
	if t < 0 || int(t) >= len(transformNames) {
		return fmt.Sprintf("Transform(%d)", int(t))
	}
	return transformNames[t]
}

// Hasher computes PDQ hashes, reusing its scratch memory between calls so
// that hashing many images allocates next to nothing. The zero value is
// ready to use. A Hasher is not safe for concurrent use; give each goroutine
// its own.
type Hasher struct {
	luma, tmp []float32 // rows×cols, row-major
	colSums   []float32
	cb, cr    []int32 // one upsampled chroma row
	a         [64 * 64]float32
	t         [16 * 64]float32
	b         [16 * 16]float32
	aux       [16 * 16]float32
	sorted    [16 * 16]float32
}

// FromImage returns the PDQ hash of img and its quality score (0 to 100).
// It is Hasher.Hash on a fresh Hasher.
func FromImage(img image.Image) (Hash, int, error) {
	var h Hasher
	return h.Hash(img)
}

// FromBytes decodes an encoded image (JPEG, PNG or GIF) and returns its PDQ
// hash and quality score. It is Hasher.HashBytes on a fresh Hasher.
func FromBytes(data []byte) (Hash, int, error) {
	var h Hasher
	return h.HashBytes(data)
}

// Dihedral returns the PDQ hashes of img and of its seven rotations and
// mirror images, indexed by Transform, all computed from one DCT as the
// reference does, and the quality score. It is Hasher.Dihedral on a fresh
// Hasher.
func Dihedral(img image.Image) ([8]Hash, int, error) {
	var h Hasher
	return h.Dihedral(img)
}

// Decode decodes an encoded image (JPEG, PNG or GIF) for hashing, refusing
// images of more than [MaxPixels] pixels before allocating them. In builds
// with cgo, JPEG is decoded by libjpeg-turbo as Meta's C++ tool decodes it
// through ImageMagick and libjpeg: floating-point IDCT, and the chroma of
// 4:2:0 files brought to full size by libjpeg's scaled 16×16 IDCT (see the
// package documentation); without cgo, image/jpeg decodes it and [Hasher.Hash]
// upsamples the chroma as libjpeg would.
func Decode(data []byte) (image.Image, error) {
	// imgproc's probe, not image.DecodeConfig: it accepts the JPEG processes
	// libjpeg-turbo decodes (arithmetic coding), as the NeuralHash path does.
	hd, err := imgproc.Probe(data)
	if err != nil {
		return nil, fmt.Errorf("pdq: decoding image: %w", err)
	}
	format := hd.Format
	if int64(hd.Width)*int64(hd.Height) > MaxPixels {
		return nil, fmt.Errorf("%w: %s of %d×%d pixels (at most %d pixels)", ErrTooLarge, format, hd.Width, hd.Height, MaxPixels)
	}
	if format == "jpeg" {
		if turboJPEG {
			m, ok, err := decodeJPEGRef(data)
			if err != nil {
				return nil, fmt.Errorf("pdq: decoding %s image: %w", format, err)
			}
			if ok {
				return m, nil
			}
		}
		// The NeuralHash decoder, with its policy: truncated files refused.
		m, _, err := imgproc.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("pdq: decoding %s image: %w", format, err)
		}
		return m, nil
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("pdq: decoding %s image: %w", format, err)
	}
	return img, nil
}

// HashBytes decodes an encoded image (JPEG, PNG or GIF; see Decode) and
// returns its PDQ hash and quality score.
func (h *Hasher) HashBytes(data []byte) (Hash, int, error) {
	img, err := Decode(data)
	if err != nil {
		return Hash{}, 0, err
	}
	return h.Hash(img)
}

// Hash returns the PDQ hash of img and its quality score (0 to 100). Images
// narrower or shorter than MinDim pixels give ErrTooSmall.
func (h *Hasher) Hash(img image.Image) (Hash, int, error) {
	q, err := h.dct(img)
	if err != nil {
		return Hash{}, 0, err
	}
	return h.bits(&h.b), q, nil
}

// Dihedral returns the PDQ hashes of img and of its seven rotations and
// mirror images, indexed by Transform, and the quality score. The hashes are
// derived from the DCT of img by sign changes and transposition, so they are
// close to, not equal to, the hashes of the transformed images.
func (h *Hasher) Dihedral(img image.Image) ([8]Hash, int, error) {
	var out [8]Hash
	q, err := h.dct(img)
	if err != nil {
		return out, 0, err
	}
	for t := Original; t <= FlipMinus1; t++ {
		dihedral(t, &h.b, &h.aux)
		out[t] = h.bits(&h.aux)
	}
	return out, q, nil
}

// dct runs the pipeline up to the 16×16 DCT block in h.b and returns the
// quality score.
func (h *Hasher) dct(img image.Image) (int, error) {
	if img == nil {
		return 0, fmt.Errorf("%w: nil image", ErrTooSmall)
	}
	r := img.Bounds()
	w, ht := r.Dx(), r.Dy()
	if w < MinDim || ht < MinDim {
		return 0, fmt.Errorf("%w: %d×%d pixels (at least %d×%d)", ErrTooSmall, w, ht, MinDim, MinDim)
	}
	if int64(w)*int64(ht) > MaxPixels {
		return 0, fmt.Errorf("%w: %d×%d pixels (at most %d pixels)", ErrTooLarge, w, ht, MaxPixels)
	}
	cols, rows := w, ht
	n := rows * cols
	h.luma = grow(h.luma, n)
	h.tmp = grow(h.tmp, n)
	h.colSums = grow(h.colSums, cols)
	h.fillLuma(img)

	// Jarosz tent filter: two passes of a box filter along rows, then
	// columns, then decimation to 64×64 at the centres of the target cells.
	wr := jaroszWindow(cols)
	wc := jaroszWindow(rows)
	for pass := 0; pass < 2; pass++ {
		boxRows(h.luma, h.tmp, rows, cols, wr)
		boxCols(h.tmp, h.luma, h.colSums, rows, cols, wc)
	}
	for i := 0; i < 64; i++ {
		si := int((float64(i) + 0.5) * float64(rows) / 64)
		for j := 0; j < 64; j++ {
			sj := int((float64(j) + 0.5) * float64(cols) / 64)
			h.a[i*64+j] = h.luma[si*cols+sj]
		}
	}
	q := quality(&h.a)
	dct64To16(&h.a, &h.t, &h.b)
	return q, nil
}

func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

// jaroszWindow is the reference's computeJaroszFilterWindowSize(dim, 64):
// half of dim/64, rounded up, since the filter runs two passes.
func jaroszWindow(dim int) int { return (dim + 2*64 - 1) / (2 * 64) }

// box1D is the reference's box1DFloat with stride 1: a moving average of
// window w, centred (for even w, one more sample on the right), that
// shrinks at the ends. len(out) == len(in) and 1 ≤ w ≤ len(in).
func box1D(in, out []float32, w int) {
	half := (w + 2) / 2
	n := len(in)
	var sum float32
	cur := 0
	ri, li, oi := 0, 0, 0
	for i := 0; i < half-1; i++ {
		sum += in[ri]
		cur++
		ri++
	}
	for i := 0; i < w-half+1; i++ {
		sum += in[ri]
		cur++
		out[oi] = sum / float32(cur)
		ri++
		oi++
	}
	for i := 0; i < n-w; i++ {
		sum += in[ri]
		sum -= in[li]
		out[oi] = sum / float32(cur)
		li++
		ri++
		oi++
	}
	for i := 0; i < half-1; i++ {
		sum -= in[li]
		cur--
		out[oi] = sum / float32(cur)
		li++
		oi++
	}
}

// boxRows runs box1D along every row of the rows×cols matrix in, into
// out, four rows at a time so that their running sums (each a serial chain
// of additions) overlap in the CPU; each row sees exactly box1D's
// operations.
func boxRows(in, out []float32, rows, cols, w int) {
	i := 0
	for ; i+4 <= rows; i += 4 {
		box1D4(in[i*cols:(i+4)*cols], out[i*cols:(i+4)*cols], cols, w)
	}
	for ; i < rows; i++ {
		box1D(in[i*cols:(i+1)*cols], out[i*cols:(i+1)*cols], w)
	}
}

// box1D4 is box1D on the four consecutive rows of length n in in and out.
func box1D4(in, out []float32, n, w int) {
	a0, a1, a2, a3 := in[:n], in[n:2*n], in[2*n:3*n], in[3*n:4*n]
	o0, o1, o2, o3 := out[:n], out[n:2*n], out[2*n:3*n], out[3*n:4*n]
	half := (w + 2) / 2
	var s0, s1, s2, s3 float32
	cur := 0
	ri, li := 0, 0
	for i := 0; i < half-1; i++ {
		s0 += a0[ri]
		s1 += a1[ri]
		s2 += a2[ri]
		s3 += a3[ri]
		cur++
		ri++
	}
	oi := 0
	for i := 0; i < w-half+1; i++ {
		s0 += a0[ri]
		s1 += a1[ri]
		s2 += a2[ri]
		s3 += a3[ri]
		cur++
		d := float32(cur)
		o0[oi], o1[oi], o2[oi], o3[oi] = s0/d, s1/d, s2/d, s3/d
		ri++
		oi++
	}
	d := float32(cur)
	for i := 0; i < n-w; i++ {
		s0 += a0[ri]
		s1 += a1[ri]
		s2 += a2[ri]
		s3 += a3[ri]
		s0 -= a0[li]
		s1 -= a1[li]
		s2 -= a2[li]
		s3 -= a3[li]
		o0[oi], o1[oi], o2[oi], o3[oi] = s0/d, s1/d, s2/d, s3/d
		li++
		ri++
		oi++
	}
	for i := 0; i < half-1; i++ {
		s0 -= a0[li]
		s1 -= a1[li]
		s2 -= a2[li]
		s3 -= a3[li]
		cur--
		d := float32(cur)
		o0[oi], o1[oi], o2[oi], o3[oi] = s0/d, s1/d, s2/d, s3/d
		li++
		oi++
	}
}

// boxCols runs box1D down every column of the rows×cols matrix in, into out,
// a row at a time for locality. Each column sees exactly the operations
// box1D would do, in the same order, so the results are bit for bit the
// reference's.
func boxCols(in, out, sums []float32, rows, cols, w int) {
	half := (w + 2) / 2
	clear(sums)
	cur := 0
	ri, li, oi := 0, 0, 0
	for i := 0; i < half-1; i++ {
		src := in[ri*cols : (ri+1)*cols]
		for c, v := range src {
			sums[c] += v
		}
		cur++
		ri++
	}
	for i := 0; i < w-half+1; i++ {
		src := in[ri*cols : (ri+1)*cols]
		dst := out[oi*cols : (oi+1)*cols]
		cur++
		d := float32(cur)
		for c, v := range src {
			s := sums[c] + v
			sums[c] = s
			dst[c] = s / d
		}
		ri++
		oi++
	}
	d := float32(cur)
	for i := 0; i < rows-w; i++ {
		add := in[ri*cols : (ri+1)*cols]
		sub := in[li*cols : (li+1)*cols]
		dst := out[oi*cols : (oi+1)*cols]
		for c := range dst {
			s := sums[c] + add[c]
			s -= sub[c]
			sums[c] = s
			dst[c] = s / d
		}
		li++
		ri++
		oi++
	}
	for i := 0; i < half-1; i++ {
		sub := in[li*cols : (li+1)*cols]
		dst := out[oi*cols : (oi+1)*cols]
		cur--
		d := float32(cur)
		for c, v := range sub {
			s := sums[c] - v
			sums[c] = s
			dst[c] = s / d
		}
		li++
		oi++
	}
}

// quality is the reference's pdqImageDomainQualityMetric: the sum of the
// absolute neighbour differences of the 64×64 image, each scaled to
// percent of full range and truncated, divided by 90 and capped at 100.
func quality(a *[64 * 64]float32) int {
	sum := 0
	for i := 0; i < 63; i++ {
		for j := 0; j < 64; j++ {
			sum += absInt(int(float32(float32(a[i*64+j]-a[(i+1)*64+j])*100) / 255))
		}
	}
	for i := 0; i < 64; i++ {
		for j := 0; j < 63; j++ {
			sum += absInt(int(float32(float32(a[i*64+j]-a[i*64+j+1])*100) / 255))
		}
	}
	return min(sum/90, 100)
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// dctMatrix is rows 1 to 16 of the 64-point DCT-II matrix, scaled by
// sqrt(2/64), in float32 as the reference computes it.
var dctMatrix = func() (d [16 * 64]float32) {
	scale := float64(float32(math.Sqrt(2.0 / 64.0)))
	for i := 0; i < 16; i++ {
		for j := 0; j < 64; j++ {
			d[i*64+j] = float32(scale * math.Cos(math.Pi/2/64*float64(i+1)*float64(2*j+1)))
		}
	}
	return d
}()

// dct64To16 computes b = D a Dᵀ (16×16) through t = D a (16×64), summing
// in the reference's order; the float32 conversions keep the compiler from
// fusing multiply and add, so results do not depend on the CPU.
func dct64To16(a *[64 * 64]float32, t *[16 * 64]float32, b *[16 * 16]float32) {
	for i := 0; i < 16; i++ {
		d := dctMatrix[i*64 : (i+1)*64]
		for j := 0; j < 64; j++ {
			var s float32
			for k := 0; k < 64; k++ {
				s += float32(d[k] * a[k*64+j])
			}
			t[i*64+j] = s
		}
	}
	for i := 0; i < 16; i++ {
		ti := t[i*64 : (i+1)*64]
		for j := 0; j < 16; j++ {
			d := dctMatrix[j*64 : (j+1)*64]
			var s float32
			for k := 0; k < 64; k++ {
				s += float32(ti[k] * d[k])
			}
			b[i*16+j] = s
		}
	}
}

// bits sets bit 16i+j for each coefficient b[i][j] greater than the median,
// the 128th smallest of the 256 (what the reference's Torben median returns
// for an even count).
func (h *Hasher) bits(b *[16 * 16]float32) Hash {
	h.sorted = *b
	slices.Sort(h.sorted[:])
	median := h.sorted[127]
	var out Hash
	for k, v := range b {
		if v > median {
			out.setBit(k)
		}
	}
	return out
}

// dihedral writes into dst the DCT block of the transformed image: a
// quarter turn or a mirror image maps DCT coefficient (i, j) to ±(i, j) or
// ±(j, i), the sign from the parities of the frequencies (the reference's
// dct16OriginalTo* functions).
func dihedral(t Transform, src, dst *[16 * 16]float32) {
	for i := 0; i < 16; i++ {
		for j := 0; j < 16; j++ {
			v := src[i*16+j]
			switch t {
			case Original:
				dst[i*16+j] = v
			case Rotate90:
				if j&1 == 0 {
					v = -v
				}
				dst[j*16+i] = v
			case Rotate180:
				if (i+j)&1 == 1 {
					v = -v
				}
				dst[i*16+j] = v
			case Rotate270:
				if i&1 == 0 {
					v = -v
				}
				dst[j*16+i] = v
			case FlipX:
				if i&1 == 0 {
					v = -v
				}
				dst[i*16+j] = v
			case FlipY:
				if j&1 == 0 {
					v = -v
				}
				dst[i*16+j] = v
			case FlipPlus1:
				dst[j*16+i] = v
			case FlipMinus1:
				if (i+j)&1 == 1 {
					v = -v
				}
				dst[j*16+i] = v
			}
		}
	}
}
