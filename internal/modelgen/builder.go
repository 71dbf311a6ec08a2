package modelgen

import (
	"fmt"

	"github.com/vouchsafe/vouchsafe/internal/onnxgen"
)

// Model geometry shared by every generated model (NeuralHash's interface).
const (
	// InputName is the name of the image input tensor, float32 [N,3,Size,Size].
	InputName = "image"
	// OutputName is the name of the embedding output tensor, float32 [N,Dim].
	OutputName = "embedding"
	// Size is the input image side in pixels.
	Size = 360
	// Dim is the embedding length.
	Dim = 128
	// Bits is the hash length: the number of seed-matrix rows.
	Bits = 96
	// Opset is the ONNX default-domain opset the models are written for.
	Opset = 17
	// IRVersion is the ONNX IR version matching Opset.
	IRVersion = 8
)

// Layer is one row of a model's layer table.
type Layer struct {
	Name   string // node name
	Op     string // ONNX operator
	Out    [3]int // output channels, height, width (per image)
	Params int64  // weights and biases
	MACs   int64  // multiply-accumulates per image
}

// builder assembles a graph and counts parameters and MACs as it goes.
type builder struct {
	g      onnxgen.Graph
	seq    int
	layers []Layer
	err    error
}

func (b *builder) name(prefix string) string {
	b.seq++
	return fmt.Sprintf("%s_%d", prefix, b.seq)
}

// floats adds a float32 initializer and returns its name.
func (b *builder) floats(name string, dims []int64, data []float32) string {
	t, err := onnxgen.FloatTensor(name, dims, data)
	if err != nil && b.err == nil {
		b.err = err
	}
	b.g.Initializers = append(b.g.Initializers, t)
	return name
}

// int64s adds an int64 initializer and returns its name.
func (b *builder) int64s(name string, dims []int64, data []int64) string {
	t, err := onnxgen.Int64Tensor(name, dims, data)
	if err != nil && b.err == nil {
		b.err = err
	}
	b.g.Initializers = append(b.g.Initializers, t)
	return name
}

// node adds a node with one output named after it and returns that output.
func (b *builder) node(op, name string, inputs []string, attrs ...onnxgen.Attr) string {
	b.g.Nodes = append(b.g.Nodes, onnxgen.Node{Inputs: inputs, Outputs: []string{name}, Name: name, OpType: op, Attrs: attrs})
	return name
}

// layer records a row of the layer table.
func (b *builder) layer(name, op string, c, h, w int, params, macs int64) {
	b.layers = append(b.layers, Layer{Name: name, Op: op, Out: [3]int{c, h, w}, Params: params, MACs: macs})
}

func ints(name string, v ...int64) onnxgen.Attr {
	return onnxgen.Attr{Name: name, Type: onnxgen.AttrInts, Ints: v}
}

func intAttr(name string, v int64) onnxgen.Attr {
	return onnxgen.Attr{Name: name, Type: onnxgen.AttrInt, I: v}
}

func floatAttr(name string, v float32) onnxgen.Attr {
	return onnxgen.Attr{Name: name, Type: onnxgen.AttrFloat, F: v}
}

// model wraps the graph with NeuralHash's input and output declarations
// (symbolic batch dimension "N") and encodes it.
func (b *builder) model(graphName, doc, output string) ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	b.g.Name = graphName
	b.g.DocString = doc
	b.g.Inputs = []onnxgen.ValueInfo{{Name: InputName, ElemType: onnxgen.Float,
		Dims: []onnxgen.Dim{{Param: "N"}, {Value: 3}, {Value: Size}, {Value: Size}}}}
	b.g.Outputs = []onnxgen.ValueInfo{{Name: OutputName, ElemType: onnxgen.Float,
		Dims: []onnxgen.Dim{{Param: "N"}, {Value: Dim}}}}
	if output != OutputName {
		return nil, fmt.Errorf("modelgen: graph %s ends in %q, not %q", graphName, output, OutputName)
	}
	m := &onnxgen.Model{
		IRVersion:       IRVersion,
		ProducerName:    "vouchsafe-modelgen",
		ProducerVersion: "1",
		Domain:          "io.github.vouchsafe",
		ModelVersion:    1,
		Graph:           b.g,
		Opsets:          []onnxgen.Opset{{Domain: "", Version: Opset}},
	}
	return onnxgen.Marshal(m), nil
}
