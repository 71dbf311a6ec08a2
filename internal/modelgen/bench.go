package modelgen

import (
	"fmt"
	"math"
)

// The bench model reproduces NeuralHash's geometry with synthetic weights: a
// MobileNetV3-style network (inverted residual blocks with depthwise
// convolutions, squeeze-and-excite and hard-swish) that normalises with
// InstanceNormalization, as NeuralHash does, instead of BatchNorm.

// block is one inverted residual block: kernel, expanded width, output width,
// squeeze-and-excite, hard-swish (else ReLU), stride.
type block struct {
	k, exp, out int
	se, hs      bool
	stride      int
}

const (
	stemWidth = 16
	lastWidth = 576  // 1×1 conv after the last block
	headWidth = 1152 // hidden layer after global pooling
)

var benchBlocks = []block{
	{3, 16, 16, true, false, 1},
	{3, 72, 24, false, false, 2},
	{3, 88, 24, false, false, 2},
	{5, 96, 40, true, true, 2},
	{5, 240, 40, true, true, 1},
	{5, 240, 40, true, true, 1},
	{5, 120, 48, true, true, 1},
	{5, 144, 48, true, true, 1},
	{5, 288, 96, true, true, 2},
	{5, 576, 96, true, true, 1},
	{5, 576, 96, true, true, 1},
}

// benchSeed seeds the bench model's weights; benchHashSeed its seed matrix.
const (
	benchSeed     = 0x76736e6e62656e63 // "vsnnbenc"
	benchHashSeed = 0x76736e6e73656564 // "vsnnseed"
)

// benchNet builds the bench graph.
type benchNet struct {
	builder
	r    *rng
	c, h int // current channels and spatial side
}

// conv adds a Conv (optionally with bias) and records its cost.
func (n *benchNet) conv(label, x string, out, k, stride, group int, bias bool, fanScale float64) string {
	in := n.c
	ho := (n.h+2*(k/2)-k)/stride + 1
	name := n.name(label)
	fanIn := in / group * k * k
	w := n.floats(name+"_w", []int64{int64(out), int64(in / group), int64(k), int64(k)},
		n.r.heUniform(out*(in/group)*k*k, int(float64(fanIn)*fanScale)))
	inputs := []string{x, w}
	params := int64(out * (in / group) * k * k)
	if bias {
		inputs = append(inputs, n.floats(name+"_b", []int64{int64(out)}, make([]float32, out)))
		params += int64(out)
	}
	p := int64(k / 2)
	y := n.node("Conv", name, inputs, ints("kernel_shape", int64(k), int64(k)),
		ints("strides", int64(stride), int64(stride)), ints("pads", p, p, p, p), intAttr("group", int64(group)))
	n.layer(name, fmt.Sprintf("Conv %d×%d/%d g%d", k, k, stride, group), out, ho, ho, params,
		int64(out)*int64(in/group)*int64(k*k)*int64(ho*ho))
	n.c, n.h = out, ho
	return y
}

// norm adds InstanceNormalization (scale 1, seeded small shift).
func (n *benchNet) norm(x string) string {
	name := n.name("in")
	s := make([]float32, n.c)
	for i := range s {
		s[i] = 1
	}
	sc := n.floats(name+"_scale", []int64{int64(n.c)}, s)
	b := n.floats(name+"_b", []int64{int64(n.c)}, n.r.scaled(n.c, 0.1))
	n.layer(name, "InstanceNormalization", n.c, n.h, n.h, int64(2*n.c), 0)
	return n.node("InstanceNormalization", name, []string{x, sc, b}, floatAttr("epsilon", 1e-5))
}

func (n *benchNet) act(x string, hs bool) string {
	if hs {
		return n.node("HardSwish", n.name("hswish"), []string{x})
	}
	return n.node("Relu", n.name("relu"), []string{x})
}

// se adds squeeze-and-excite: global pool, 1×1 conv to a quarter width
// (rounded to 8), ReLU, 1×1 conv back, hard-sigmoid, channel-wise scale.
func (n *benchNet) se(x string) string {
	c, h := n.c, n.h
	sq := max(8, (c/4+4)/8*8)
	p := n.node("GlobalAveragePool", n.name("se_pool"), []string{x})
	n.h = 1
	y := n.conv("se_reduce", p, sq, 1, 1, 1, true, 1)
	y = n.act(y, false)
	y = n.conv("se_expand", y, c, 1, 1, 1, true, 1)
	y = n.node("HardSigmoid", n.name("se_gate"), []string{y}, floatAttr("alpha", 1.0/6), floatAttr("beta", 0.5))
	n.h = h
	return n.node("Mul", n.name("se_scale"), []string{x, y})
}

// globalDW adds a depthwise convolution whose kernel covers the whole feature
// map, reducing it to 1×1, with weights of variance 1/(h·h).
func (n *benchNet) globalDW(x string) string {
	c, k := n.c, n.h
	name := n.name("gdconv")
	w := n.floats(name+"_w", []int64{int64(c), 1, int64(k), int64(k)},
		n.r.scaled(c*k*k, math.Sqrt(3/float64(k*k))))
	y := n.node("Conv", name, []string{x, w}, ints("kernel_shape", int64(k), int64(k)), intAttr("group", int64(c)))
	n.layer(name, fmt.Sprintf("Conv %d×%d g%d (global depthwise)", k, k, c), c, 1, 1, int64(c*k*k), int64(c*k*k))
	n.h = 1
	return y
}

// Bench returns the bench model (ONNX bytes), its seed file and its layer table.
func Bench() (onnx, seed []byte, layers []Layer, err error) {
	n := &benchNet{r: newRNG(benchSeed), c: 3, h: Size}
	x := n.conv("stem", InputName, stemWidth, 3, 2, 1, false, 1)
	x = n.act(n.norm(x), true)
	for _, bl := range benchBlocks {
		in := x
		inC := n.c
		if bl.exp != n.c {
			x = n.act(n.norm(n.conv("expand", x, bl.exp, 1, 1, 1, false, 1)), bl.hs)
		}
		x = n.act(n.norm(n.conv("dw", x, bl.exp, bl.k, bl.stride, bl.exp, false, 1)), bl.hs)
		if bl.se {
			x = n.se(x)
		}
		x = n.norm(n.conv("project", x, bl.out, 1, 1, 1, false, 2)) // linear bottleneck: variance 1/fanIn
		if bl.stride == 1 && inC == bl.out {
			x = n.node("Add", n.name("residual"), []string{in, x})
		}
	}
	x = n.act(n.norm(n.conv("last", x, lastWidth, 1, 1, 1, false, 1)), true)
	// Global depthwise convolution (a learned spatial weighting per channel,
	// as in MobileFaceNet) instead of global average pooling: with
	// InstanceNorm before it, the spatial mean of every channel is fixed by
	// the norm's shift, so with synthetic weights an average pool would give
	// nearly the same embedding for every image.
	x = n.globalDW(x)
	x = n.act(n.conv("head", x, headWidth, 1, 1, 1, true, 1), true)
	x = n.conv("embed", x, Dim, 1, 1, 1, true, 2)
	x = n.node("Flatten", OutputName, []string{x}, intAttr("axis", 1))
	var params, macs int64
	for _, l := range n.layers {
		params += l.Params
		macs += l.MACs
	}
	onnx, err = n.model("vouchsafe_bench", fmt.Sprintf(
		"vouchsafe bench model: NeuralHash's geometry (MobileNetV3-style, InstanceNorm) with seeded synthetic "+
			"weights, for throughput measurement only; %d parameters, %d multiply-accumulates per image.", params, macs), x)
	if err != nil {
		return nil, nil, nil, err
	}
	return onnx, SeedFile("bench", gaussianSeed(benchHashSeed)), n.layers, nil
}

// Totals sums a layer table's parameters and multiply-accumulates per image.
func Totals(layers []Layer) (params, macs int64) {
	for _, l := range layers {
		params += l.Params
		macs += l.MACs
	}
	return params, macs
}
