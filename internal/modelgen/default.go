package modelgen

import "github.com/vouchsafe/vouchsafe/internal/defaultmodel"

// The default model's geometry and constants live in internal/defaultmodel,
// beside its pure-Go reference, so that the engine can run the reference
// without importing the generator.
const (
	pool   = defaultmodel.Pool
	grid   = defaultmodel.Grid
	nCoeff = defaultmodel.Dim
)

var (
	lumaWeights = defaultmodel.LumaWeights()
	dctMatrix   = defaultmodel.DCTMatrix
	zigzag      = defaultmodel.Zigzag
)

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

// DefaultEmbedding is the pure-Go reference of the default model for one
// image; see defaultmodel.Embedding.
func DefaultEmbedding(img []float32) []float32 { return defaultmodel.Embedding(img) }
