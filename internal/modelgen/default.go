package modelgen

import (
	"math"
	"sync"
)

// The default model: a pHash-like perceptual embedding.
//
//	image [N,3,360,360] in [-1,1]
//	→ AveragePool 10×10, stride 10           [N,3,36,36]
//	→ Conv 1×1 (BT.601 luma weights)         [N,1,36,36]
//	→ MatMul C, MatMul Cᵀ (2-D DCT-II)       [N,1,36,36]
//	→ Flatten, Gather 128 zigzag AC coeffs   [N,128]
//	→ embedding
const (
	pool   = 10          // box-filter side
	grid   = Size / pool // 36: side of the downsampled luma image
	nCoeff = Dim         // AC coefficients kept
)

// lumaWeights are ITU-R BT.601 luma coefficients for R, G, B.
var lumaWeights = [3]float32{0.299, 0.587, 0.114}

// dctMatrix returns the orthonormal DCT-II matrix C (grid×grid, row-major):
// C[u][x] = α(u)·cos(π(2x+1)u / 2·grid), α(0) = √(1/grid), α(u>0) = √(2/grid).
// The 2-D transform of X is C·X·Cᵀ.
//
// Every cosine is of a multiple of π/(4·grid); each is computed once from its
// reduced angle, then multiplied by α(u) and rounded to float32.
func dctMatrix() []float32 {
	c := make([]float32, grid*grid)
	for u := range grid {
		alpha := math.Sqrt(2 / float64(grid))
		if u == 0 {
			alpha = math.Sqrt(1 / float64(grid))
		}
		for x := range grid {
			m := ((2*x + 1) * u) % (4 * grid)
			cos := math.Cos(float64(math.Pi*float64(m)) / float64(2*grid))
			c[u*grid+x] = float32(float64(alpha * cos))
		}
	}
	return c
}

// zigzag returns the flat indices (u·grid + v, u vertical, v horizontal) of the
// first nCoeff AC coefficients of a grid×grid DCT in JPEG zigzag order: the DC
// term (0,0) is skipped.
func zigzag() []int64 {
	out := make([]int64, 0, nCoeff)
	for d := 1; len(out) < nCoeff; d++ {
		for i := 0; i <= d && len(out) < nCoeff; i++ {
			u, v := i, d-i // odd diagonals run top-right to bottom-left
			if d%2 == 0 {
				u, v = d-i, i
			}
			if u < grid && v < grid {
				out = append(out, int64(u*grid+v))
			}
		}
	}
	return out
}

// Default returns the default model (ONNX bytes) and its seed file.
func Default() (onnx, seed []byte, err error) {
	var b builder
	// Pooling first and taking luma of the 36×36 result is the same linear
	// map as luma then pooling, and about five times faster in ONNX Runtime.
	x := b.node("AveragePool", "downsample", []string{InputName},
		ints("kernel_shape", pool, pool), ints("strides", pool, pool))
	b.layer("downsample", "AveragePool 10×10/10", 3, grid, grid, 0, 3*Size*Size)
	luma := b.floats("luma_weight", []int64{1, 3, 1, 1}, lumaWeights[:])
	x = b.node("Conv", "luma", []string{x, luma}, ints("kernel_shape", 1, 1))
	b.layer("luma", "Conv 1×1", 1, grid, grid, 3, 3*grid*grid)
	c := dctMatrix()
	ct := make([]float32, len(c))
	for i := range grid {
		for j := range grid {
			ct[j*grid+i] = c[i*grid+j]
		}
	}
	cn := b.floats("dct", []int64{grid, grid}, c)
	ctn := b.floats("dct_t", []int64{grid, grid}, ct)
	x = b.node("MatMul", "dct_rows", []string{cn, x})
	x = b.node("MatMul", "dct_cols", []string{x, ctn})
	b.layer("dct", "MatMul ×2", 1, grid, grid, 0, 2*grid*grid*grid)
	x = b.node("Flatten", "flatten", []string{x}, intAttr("axis", 1))
	idx := b.int64s("zigzag", []int64{nCoeff}, zigzag())
	x = b.node("Gather", OutputName, []string{x, idx}, intAttr("axis", 1))
	b.layer(OutputName, "Gather", nCoeff, 1, 1, 0, 0)
	onnx, err = b.model("vouchsafe_default",
		"vouchsafe default perceptual embedding: 10x10 box downsample to 36x36, BT.601 luma, "+
			"orthonormal 2-D DCT-II, the first 128 AC coefficients in zigzag order.", x)
	if err != nil {
		return nil, nil, err
	}
	return onnx, SeedFile("default", defaultSeed()), nil
}

// dctBasis and zigzagOrder are computed once; both are read-only.
var (
	dctBasis    = sync.OnceValue(dctMatrix)
	zigzagOrder = sync.OnceValue(zigzag)
)

// DefaultEmbedding is the pure-Go reference of the default model for one
// image: img is [3,Size,Size] (CHW, RGB in [-1,1]); the result is the 128
// embedding values, or nil if img has the wrong length. It follows the
// model's steps in float64 with the model's float32 constants, so it agrees
// with ONNX Runtime to float32 rounding. It is safe for concurrent use.
func DefaultEmbedding(img []float32) []float32 {
	if len(img) != 3*Size*Size {
		return nil
	}
	var sums [3][grid * grid]float64 // per-channel 10×10 block sums
	for c := range 3 {
		plane := img[c*Size*Size : (c+1)*Size*Size]
		for y := range Size {
			row := plane[y*Size : (y+1)*Size]
			acc := sums[c][(y/pool)*grid : (y/pool+1)*grid]
			for bx := range grid {
				s := 0.0
				for _, v := range row[bx*pool : (bx+1)*pool] {
					s += float64(v)
				}
				acc[bx] += s
			}
		}
	}
	var small [grid * grid]float64
	for i := range small {
		small[i] = (float64(lumaWeights[0])*sums[0][i] + float64(lumaWeights[1])*sums[1][i] +
			float64(lumaWeights[2])*sums[2][i]) / (pool * pool)
	}
	c := dctBasis()
	var tmp [grid * grid]float64
	for u := range grid { // tmp = C·X
		for y := range grid {
			cu := float64(c[u*grid+y])
			for x := range grid {
				tmp[u*grid+x] += cu * small[y*grid+x]
			}
		}
	}
	out := make([]float32, nCoeff)
	for i, k := range zigzagOrder() { // (tmp·Cᵀ)[u][v] for the kept (u,v)
		u, v := int(k)/grid, int(k)%grid
		s := 0.0
		for x := range grid {
			s += tmp[u*grid+x] * float64(c[v*grid+x])
		}
		out[i] = float32(s)
	}
	return out
}
