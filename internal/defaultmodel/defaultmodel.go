// Package defaultmodel is the default model's geometry and its pure-Go
// reference implementation. The engine runs the reference where ONNX Runtime
// cannot be; internal/modelgen builds the ONNX graph from the same constants.
package defaultmodel

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
	// Size is the input image side in pixels.
	Size = 360
	// Dim is the embedding length: the AC coefficients kept.
	Dim = 128
	// Pool is the box-filter side.
	Pool = 10
	// Grid is the side of the downsampled luma image (36).
	Grid = Size / Pool
)

// LumaWeights returns the ITU-R BT.601 luma coefficients for R, G, B.
func LumaWeights() [3]float32 { return [3]float32{0.299, 0.587, 0.114} }

// DCTMatrix returns the orthonormal DCT-II matrix C (Grid×Grid, row-major):
// C[u][x] = α(u)·cos(π(2x+1)u / 2·Grid), α(0) = √(1/Grid), α(u>0) = √(2/Grid).
// The 2-D transform of X is C·X·Cᵀ.
//
// Every cosine is of a multiple of π/(4·Grid); each is computed once from its
// reduced angle, then multiplied by α(u) and rounded to float32.
func DCTMatrix() []float32 {
	c := make([]float32, Grid*Grid)
	for u := range Grid {
		alpha := math.Sqrt(2 / float64(Grid))
		if u == 0 {
			alpha = math.Sqrt(1 / float64(Grid))
		}
		for x := range Grid {
			m := ((2*x + 1) * u) % (4 * Grid)
			cos := math.Cos(float64(math.Pi*float64(m)) / float64(2*Grid))
			c[u*Grid+x] = float32(float64(alpha * cos))
		}
	}
	return c
}

// Zigzag returns the flat indices (u·Grid + v, u vertical, v horizontal) of the
// first Dim AC coefficients of a Grid×Grid DCT in JPEG zigzag order: the DC
// term (0,0) is skipped.
func Zigzag() []int64 {
	out := make([]int64, 0, Dim)
	for d := 1; len(out) < Dim; d++ {
		for i := 0; i <= d && len(out) < Dim; i++ {
			u, v := i, d-i // odd diagonals run top-right to bottom-left
			if d%2 == 0 {
				u, v = d-i, i
			}
			if u < Grid && v < Grid {
				out = append(out, int64(u*Grid+v))
			}
		}
	}
	return out
}

// dctBasis and zigzagOrder are computed once; both are read-only.
var (
	dctBasis    = sync.OnceValue(DCTMatrix)
	zigzagOrder = sync.OnceValue(Zigzag)
)

// Embedding is the pure-Go reference of the default model for one
// image: img is [3,Size,Size] (CHW, RGB in [-1,1]); the result is the 128
// embedding values, or nil if img has the wrong length. It follows the
// model's steps in float64 with the model's float32 constants, so it agrees
// with ONNX Runtime to float32 rounding. It is safe for concurrent use.
func Embedding(img []float32) []float32 {
	if len(img) != 3*Size*Size {
		return nil
	}
	var sums [3][Grid * Grid]float64 // per-channel 10×10 block sums
	for c := range 3 {
		plane := img[c*Size*Size : (c+1)*Size*Size]
		for y := range Size {
			row := plane[y*Size : (y+1)*Size]
			acc := sums[c][(y/Pool)*Grid : (y/Pool+1)*Grid]
			for bx := range Grid {
				s := 0.0
				for _, v := range row[bx*Pool : (bx+1)*Pool] {
					s += float64(v)
				}
				acc[bx] += s
			}
		}
	}
	var small [Grid * Grid]float64
	lw := LumaWeights()
	for i := range small {
		small[i] = (float64(lw[0])*sums[0][i] + float64(lw[1])*sums[1][i] +
			float64(lw[2])*sums[2][i]) / (Pool * Pool)
	}
	c := dctBasis()
	var tmp [Grid * Grid]float64
	for u := range Grid { // tmp = C·X
		for y := range Grid {
			cu := float64(c[u*Grid+y])
			for x := range Grid {
				tmp[u*Grid+x] += cu * small[y*Grid+x]
			}
		}
	}
	out := make([]float32, Dim)
	for i, k := range zigzagOrder() { // (tmp·Cᵀ)[u][v] for the kept (u,v)
		u, v := int(k)/Grid, int(k)%Grid
		s := 0.0
		for x := range Grid {
			s += tmp[u*Grid+x] * float64(c[v*Grid+x])
		}
		out[i] = float32(s)
	}
	return out
}
