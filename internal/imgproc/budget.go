package imgproc

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/semaphore"
)

// DefaultBudget is the default memory budget of the decoders in flight:
// with the Go runtime's overhead and the model, a run stays under about
// 1.5 GB of resident memory on any mix of inputs.
const DefaultBudget = 1 << 30

// retainMax is the largest scratch buffer a Preparer or Decoder keeps
// between images; larger ones, which only a large image needed, are dropped
// so that idle workers do not hold memory outside the budget.
const retainMax = 32 << 20

// ErrOverBudget is returned (wrapped, with the figures) for an image whose
// decoding alone would need more memory than the whole budget.
var ErrOverBudget = errors.New("image needs more memory to decode than the budget")

// Budget bounds the memory that images being decoded may use at once, over
// all workers sharing it: each image reserves its estimated cost (encoded
// bytes, decoded pixels, scratch) before decoding and returns it after. It
// is safe for concurrent use.
type Budget struct {
	sem   *semaphore.Weighted
	total int64
}

// NewBudget returns a budget of the given number of bytes; zero or less
// means DefaultBudget.
func NewBudget(bytes int64) *Budget {
	if bytes <= 0 {
		bytes = DefaultBudget
	}
	return &Budget{sem: semaphore.NewWeighted(bytes), total: bytes}
}

// Total returns the budget in bytes.
func (b *Budget) Total() int64 { return b.total }

// Acquire reserves n bytes, waiting until they are free or ctx is done.
// An n larger than the whole budget fails at once with ErrOverBudget.
func (b *Budget) Acquire(ctx context.Context, n int64) error {
	if n > b.total {
		return fmt.Errorf("%w: %d MiB, budget %d MiB (--decode-mem)", ErrOverBudget, n>>20, b.total>>20)
	}
	return b.sem.Acquire(ctx, n)
}

// Release returns n bytes reserved by Acquire.
func (b *Budget) Release(n int64) { b.sem.Release(n) }

// DecodeCost estimates the most memory decoding data costs, from its
// header: the encoded bytes, the decoder's own image (for JPEG, the DCT
// coefficients a progressive file keeps), the RGB result at the size a
// minSide DCT-domain downscale gives (0: full size) and the resize's
// intermediate rows. extraPerPixel adds a caller's per-pixel buffers (PDQ's
// float luma). A header that does not parse costs only the bytes: the
// decoder will refuse the data before allocating.
func DecodeCost(data []byte, minSide int, extraPerPixel int64) int64 {
	cost := int64(len(data)) + 1<<20
	h, err := Probe(data)
	if err != nil {
		return cost
	}
	px := int64(h.Width) * int64(h.Height)
	out := px
	if h.Format == "jpeg" && haveTurbo {
		// The decoder's own choice, so the estimate is its output size.
		_, sw, sh := jpegScale(h.Width, h.Height, minSide)
		out = int64(sw) * int64(sh)
	}
	// The RGB result (and an oriented copy, or CMYK samples).
	cost += px*int64(h.BytesPerPixel) + 2*3*out + px*extraPerPixel
	// Resize: one horizontal pass of Side columns in float32 per row.
	cost += int64(h.Height) * Side * 3 * 4
	return cost
}

// jpegScales are the DCT-domain scales (k/8) the fast path may pick: those
// up to 1/2. libjpeg-turbo has SIMD IDCTs for 1/2 and 1/4 only, and the
// plain-C 5/8 to 7/8 ones cost more than they save.
var jpegScales = [...]int{4, 3, 2, 1}

// jpegScale returns the scale k/8 at which libjpeg decodes a w×h JPEG for
// minSide, and the size it gives: the smallest of jpegScales keeping both
// sides at least minSide, or 8/8 (full size) for none or minSide ≤ 0. The
// size is libjpeg's, n·k/8 rounded up (jpeg.Scaled); the decoder checks it.
// DecodeCost shares it so that its estimate is the decoder's real size.
func jpegScale(w, h, minSide int) (k, sw, sh int) {
	k, sw, sh = 8, w, h
	if minSide <= 0 {
		return k, sw, sh
	}
	for _, s := range jpegScales {
		x, y := (w*s+7)/8, (h*s+7)/8
		if x >= minSide && y >= minSide && int64(x)*int64(y) < int64(sw)*int64(sh) {
			k, sw, sh = s, x, y
		}
	}
	return k, sw, sh
}
