package onnxgen

import (
	"errors"
	"math"
	"testing"
)

func TestFloat16BitsKnown(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{0, 0x0000}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3c00}, {-2, 0xc000},
		{0.1, 0x2e66}, {1.0 / 3, 0x3555}, {65504, 0x7bff}, {1e5, 0x7bff}, {-1e9, 0xfbff},
		{float32(math.Ldexp(1, -14)), 0x0400}, {float32(math.Ldexp(1, -24)), 0x0001},
		{float32(math.Ldexp(1, -25)), 0x0000},     // a tie: rounds to even (zero)
		{float32(math.Ldexp(3, -26)), 0x0001},     // above the tie
		{float32(math.Ldexp(1, -30)), 0x0000},     // underflow
		{1 + float32(math.Ldexp(1, -11)), 0x3c00}, // tie between 1 and its successor: even
		{1 + float32(math.Ldexp(3, -11)), 0x3c02}, // tie: rounds up to even
		{float32(math.Inf(1)), 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
	} {
		if got := Float16Bits(c.f); got != c.want {
			t.Errorf("Float16Bits(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	if got := Float16Bits(float32(math.NaN())); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
		t.Errorf("Float16Bits(NaN) = %#04x, not a NaN", got)
	}
}

// Every finite half-precision value converts to float32 and back unchanged,
// and a value halfway between two neighbours rounds to the even one.
func TestFloat16Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		if h&0x7c00 == 0x7c00 {
			continue // infinities and NaNs
		}
		v := Float16Value(uint16(h))
		if got := Float16Bits(v); got != uint16(h) {
			t.Fatalf("%#04x → %g → %#04x", h, v, got)
		}
		if h&0x7fff == 0x7bff {
			continue // no finite successor
		}
		next := Float16Value(uint16(h + 1))
		if h&0x8000 != 0 && h&0x7fff == 0 {
			continue // -0's successor is a NaN pattern's neighbour; skip
		}
		mid := float32((float64(v) + float64(next)) / 2)
		want := uint16(h)
		if h&1 == 1 {
			want = uint16(h + 1)
		}
		if got := Float16Bits(mid); got != want {
			t.Fatalf("midpoint of %#04x and %#04x (%g) → %#04x, want %#04x", h, h+1, mid, got, want)
		}
	}
}

func findNode(g *Graph, op string) []Node {
	var out []Node
	for _, n := range g.Nodes {
		if n.OpType == op {
			out = append(out, n)
		}
	}
	return out
}

func TestConvertFloat16Structure(t *testing.T) {
	m := tinyModel(t)
	scales, _ := FloatTensor("scales", []int64{2}, []float32{1, 2})
	m.Graph.Initializers = append(m.Graph.Initializers, scales)
	m.Graph.Nodes = append(m.Graph.Nodes,
		Node{Inputs: []string{"z", "", "scales"}, Outputs: []string{"r"}, Name: "rs", OpType: "Resize"},
		Node{Outputs: []string{"c"}, Name: "k", OpType: "Constant", Attrs: []Attr{{Name: "value_float", Type: AttrFloat, F: 0.5}}},
		Node{Inputs: []string{"r"}, Outputs: []string{"cast"}, Name: "cs", OpType: "Cast", Attrs: []Attr{{Name: "to", Type: AttrInt, I: int64(Float)}}},
	)
	m.Graph.Outputs = append(m.Graph.Outputs, ValueInfo{Name: "cast", ElemType: Float})
	out, err := ConvertFloat16(Marshal(m))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(out)
	if err != nil {
		t.Fatal(err)
	}
	g := &got.Graph
	if g.Inputs[0].ElemType != Float || g.Outputs[0].ElemType != Float || g.Outputs[1].ElemType != Float {
		t.Errorf("graph inputs/outputs changed type: %+v %+v", g.Inputs, g.Outputs)
	}
	if len(g.ValueInfo) != 0 {
		t.Errorf("value_info kept: %+v", g.ValueInfo)
	}
	for _, init := range g.Initializers {
		want := map[string]DataType{"w": Float16, "idx": Int64, "scales": Float}[init.Name]
		if init.DataType != want {
			t.Errorf("initializer %s has type %d, want %d", init.Name, init.DataType, want)
		}
		if init.Name == "w" {
			for i, f := range []float32{1, -2, 0.5, 3} {
				if h := uint16(init.Raw[2*i]) | uint16(init.Raw[2*i+1])<<8; Float16Value(h) != f {
					t.Errorf("w[%d] = %g, want %g", i, Float16Value(h), f)
				}
			}
		}
	}
	casts := findNode(g, "Cast")
	// x → fp16 first; the model's own Cast now to fp16; z and cast back to float32 last.
	if len(casts) != 4 || g.Nodes[0].OpType != "Cast" || g.Nodes[0].Inputs[0] != "x" || g.Nodes[0].Attrs[0].I != int64(Float16) {
		t.Fatalf("boundary casts wrong: %+v", g.Nodes)
	}
	last := g.Nodes[len(g.Nodes)-2:]
	for i, name := range []string{"z", "cast"} {
		if last[i].OpType != "Cast" || last[i].Outputs[0] != name || last[i].Attrs[0].I != int64(Float) {
			t.Errorf("output %s: last nodes %+v", name, last)
		}
	}
	mm := findNode(g, "MatMul")[0]
	if mm.Inputs[0] != g.Nodes[0].Outputs[0] {
		t.Errorf("MatMul reads %q, not the cast input %q", mm.Inputs[0], g.Nodes[0].Outputs[0])
	}
	ga := findNode(g, "Gather")[0]
	if ga.Outputs[0] == "z" || findNode(g, "Resize")[0].Inputs[0] != ga.Outputs[0] {
		t.Errorf("z not renamed consistently: gather %v, resize %v", ga.Outputs, findNode(g, "Resize")[0].Inputs)
	}
	if ga.Attrs[5].T.DataType != Float {
		t.Error("a Gather's tensor attribute (not a constant) was converted")
	}
	k := findNode(g, "Constant")[0]
	if k.Attrs[0].Name != "value" || k.Attrs[0].T.DataType != Float16 || Float16Value(uint16(k.Attrs[0].T.Raw[0])|uint16(k.Attrs[0].T.Raw[1])<<8) != 0.5 {
		t.Errorf("constant not converted: %+v", k.Attrs[0])
	}
	if own := casts[1]; own.Name != "cs" || own.Attrs[0].I != int64(Float16) {
		t.Errorf("the model's Cast to float32 should now cast to float16: %+v", own)
	}
}

func TestConvertFloat16Rejects(t *testing.T) {
	for name, edit := range map[string]func(m *Model){
		"subgraph":   func(m *Model) { m.Graph.Nodes[0].OpType = "If" },
		"attr type":  func(m *Model) { m.Graph.Nodes[1].Attrs[0].Type = 5 /* GRAPH */ },
		"typed data": func(m *Model) { m.Graph.Initializers[0].Raw = nil },
	} {
		m := tinyModel(t)
		edit(m)
		if _, err := ConvertFloat16(Marshal(m)); err == nil {
			t.Errorf("%s: converted", name)
		}
	}
	if _, err := ConvertFloat16([]byte{0xff}); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: err = %v, want ErrMalformed", err)
	}
}

// Whatever the bytes, ConvertFloat16 returns an error or a model that decodes.
func FuzzConvertFloat16(f *testing.F) {
	f.Add(Marshal(tinyModel(f)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := ConvertFloat16(b)
		if err != nil {
			return
		}
		if _, err := Unmarshal(out); err != nil {
			t.Fatalf("converted model does not decode: %v", err)
		}
	})
}
