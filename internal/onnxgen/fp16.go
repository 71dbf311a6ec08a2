package onnxgen

import (
	"encoding/binary"
	"fmt"
	"math"
)

// maxFloat16 is the largest finite half-precision value.
const maxFloat16 = 65504

// Float16Bits rounds f to the nearest IEEE 754 half-precision value (ties to
// even) and returns its bits. Finite values beyond ±65504 become ±65504 rather
// than infinities, so that a large weight saturates instead of poisoning every
// activation it touches; values below the smallest subnormal (2⁻²⁴) round to
// zero. NaN stays NaN and infinities stay infinite.
func Float16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	if math.Abs(float64(f)) >= maxFloat16 {
		return sign | 0x7bff
	}
	e := exp - 127 + 15 // the half-precision biased exponent
	if e <= 0 {
		// Subnormal (or zero) in half precision: value = m × 2⁻²⁴.
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		return sign | uint16(roundShift(m, shift))
	}
	// Normal: the carry of rounding may move into the exponent, as it should.
	return sign | uint16(roundShift(uint32(e)<<23|mant, 13))
}

// roundShift returns x >> shift rounded to nearest, ties to even.
func roundShift(x, shift uint32) uint32 {
	q := x >> shift
	rem := x & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}

// Float16Value returns the float32 value of half-precision bits h (exact: every
// half-precision value is a float32).
func Float16Value(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		v := float32(mant) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// float32Inputs lists, per operator, the inputs that ONNX requires to stay
// float32 whatever the type of the data: a float initializer, constant or
// graph input feeding one of them is left as it is.
var float32Inputs = map[string][]int{
	"Resize":   {1, 2}, // roi, scales
	"Upsample": {1},    // scales
}

// ConvertFloat16 returns a copy of the ONNX model with its float32 weights,
// constants and computation in float16, for accelerators with fast
// half-precision arithmetic. The graph's float32 inputs and outputs keep their
// type: a Cast node after each input and before each output converts at the
// boundary, so callers feed and read float32 as before. Weights beyond the
// half-precision range saturate at ±65504. Intermediate value_info is dropped
// (ONNX Runtime infers it again).
//
// The model is decoded with Unmarshal, so it must fit the subset this package
// models: every tensor's data in raw_data, no subgraphs (If, Loop, Scan) and
// only the attribute types Attr holds; anything else is an error naming the
// tensor, node or attribute rather than a silently different model.
func ConvertFloat16(model []byte) ([]byte, error) {
	m, err := Unmarshal(model)
	if err != nil {
		return nil, err
	}
	if err := toFloat16(&m.Graph); err != nil {
		return nil, err
	}
	return Marshal(m), nil
}

func toFloat16(g *Graph) error {
	names := map[string]bool{} // every value name, for fresh ones
	keep := map[string]bool{}  // values that must stay float32
	for _, n := range g.Nodes {
		switch n.OpType {
		case "If", "Loop", "Scan":
			return fmt.Errorf("onnxgen: node %q: %s has subgraphs, which the float16 conversion cannot carry", n.Name, n.OpType)
		}
		for _, a := range n.Attrs {
			switch a.Type {
			case AttrFloat, AttrInt, AttrString, AttrTensor, AttrFloats, AttrInts:
			default:
				return fmt.Errorf("onnxgen: node %q (%s): attribute %q has type %d, which the float16 conversion cannot carry", n.Name, n.OpType, a.Name, a.Type)
			}
		}
		for i, in := range n.Inputs {
			names[in] = true
			for _, k := range float32Inputs[n.OpType] {
				if i == k && in != "" {
					keep[in] = true
				}
			}
		}
		for _, out := range n.Outputs {
			names[out] = true
		}
	}
	for _, v := range g.Inputs {
		names[v.Name] = true
	}
	for _, v := range g.Outputs {
		names[v.Name] = true
	}
	fresh := func(base string) string {
		name := base + "_fp16"
		for i := 2; names[name]; i++ {
			name = fmt.Sprintf("%s_fp16_%d", base, i)
		}
		names[name] = true
		return name
	}

	initializer := map[string]bool{}
	for i := range g.Initializers {
		t := &g.Initializers[i]
		initializer[t.Name] = true
		if t.DataType.size() > 0 && t.check() != nil {
			return fmt.Errorf("onnxgen: initializer %q: its data is not in raw_data (typed fields or external data), which the float16 conversion cannot carry", t.Name)
		}
		if t.DataType == Float && !keep[t.Name] {
			if err := tensorToFloat16(t); err != nil {
				return err
			}
		}
	}
	// Older models list their initializers among the graph inputs too.
	for i := range g.Inputs {
		if v := &g.Inputs[i]; initializer[v.Name] && v.ElemType == Float && !keep[v.Name] {
			v.ElemType = Float16
		}
	}
	for i := range g.Nodes {
		if err := nodeToFloat16(&g.Nodes[i], keep); err != nil {
			return err
		}
	}
	g.ValueInfo = nil

	// Casts at the boundary: float32 graph inputs to float16 for the nodes
	// that read them, and float16 results back to float32 graph outputs.
	var head []Node
	for _, v := range g.Inputs {
		if initializer[v.Name] || v.ElemType != Float {
			continue
		}
		half := fresh(v.Name)
		for i := range g.Nodes {
			n := &g.Nodes[i]
			for j, in := range n.Inputs {
				if in == v.Name && !isFloat32Input(n.OpType, j) {
					n.Inputs[j] = half
				}
			}
		}
		head = append(head, castNode(v.Name, half, Float16))
	}
	graphInput := map[string]bool{}
	for _, v := range g.Inputs {
		graphInput[v.Name] = true
	}
	var tail []Node
	for _, v := range g.Outputs {
		if v.ElemType != Float || graphInput[v.Name] || initializer[v.Name] || keep[v.Name] {
			continue
		}
		half := fresh(v.Name)
		for i := range g.Nodes {
			n := &g.Nodes[i]
			for j := range n.Outputs {
				if n.Outputs[j] == v.Name {
					n.Outputs[j] = half
				}
			}
			for j := range n.Inputs {
				if n.Inputs[j] == v.Name {
					n.Inputs[j] = half
				}
			}
		}
		tail = append(tail, castNode(half, v.Name, Float))
	}
	g.Nodes = append(append(head, g.Nodes...), tail...)
	return nil
}

func isFloat32Input(op string, i int) bool {
	for _, k := range float32Inputs[op] {
		if k == i {
			return true
		}
	}
	return false
}

func castNode(in, out string, to DataType) Node {
	return Node{
		Inputs: []string{in}, Outputs: []string{out}, Name: out + "_cast", OpType: "Cast",
		Attrs: []Attr{{Name: "to", Type: AttrInt, I: int64(to)}},
	}
}

// nodeToFloat16 converts the float32 constants a node holds (Constant,
// ConstantOfShape) and the float32 type a Cast produces.
func nodeToFloat16(n *Node, keep map[string]bool) error {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return nil
	}
	for _, out := range n.Outputs {
		if keep[out] {
			return nil
		}
	}
	for i := range n.Attrs {
		a := &n.Attrs[i]
		switch {
		case n.OpType == "Cast" && a.Name == "to" && a.Type == AttrInt && a.I == int64(Float):
			a.I = int64(Float16)
		case (n.OpType == "Constant" || n.OpType == "ConstantOfShape") && a.Name == "value" && a.Type == AttrTensor && a.T != nil && a.T.DataType == Float:
			if err := tensorToFloat16(a.T); err != nil {
				return fmt.Errorf("onnxgen: node %q: %w", n.Name, err)
			}
		case n.OpType == "Constant" && (a.Name == "value_float" || a.Name == "value_floats"):
			// The typed scalar forms hold float32 only: make them a tensor.
			data, dims := []float32{a.F}, []int64{}
			if a.Name == "value_floats" {
				data, dims = a.Floats, []int64{int64(len(a.Floats))}
			}
			t, err := FloatTensor(n.Outputs[0], dims, data)
			if err != nil {
				return err
			}
			if err := tensorToFloat16(&t); err != nil {
				return err
			}
			*a = Attr{Name: "value", Type: AttrTensor, T: &t}
		}
	}
	return nil
}

// tensorToFloat16 rewrites a float32 tensor's data as float16.
func tensorToFloat16(t *Tensor) error {
	f, err := t.Floats()
	if err != nil {
		return err
	}
	raw := make([]byte, 2*len(f))
	for i, v := range f {
		binary.LittleEndian.PutUint16(raw[2*i:], Float16Bits(v))
	}
	t.DataType, t.Raw = Float16, raw
	return nil
}
