// Package onnxgen writes (and reads back) the subset of the ONNX ModelProto
// format that vouchsafe's generated models use: one graph of nodes with
// attributes, float32 and int64 initializers stored as raw little-endian data,
// and tensor value_info whose dimensions may be symbolic.
//
// The encoding is done by hand with protowire, following onnx.proto (proto2):
// fields are written in field-number order and repeated scalars unpacked, so
// the same Model always encodes to the same bytes.
package onnxgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// DataType is an ONNX TensorProto.DataType.
type DataType int32

// The tensor element types this package handles.
const (
	Float   DataType = 1  // float32
	Int64   DataType = 7  // int64
	Float16 DataType = 10 // IEEE 754 half precision
)

func (d DataType) size() int {
	switch d {
	case Float:
		return 4
	case Int64:
		return 8
	case Float16:
		return 2
	}
	return 0
}

// AttrType is an ONNX AttributeProto.AttributeType.
type AttrType int32

// The attribute types this package handles.
const (
	AttrFloat  AttrType = 1
	AttrInt    AttrType = 2
	AttrString AttrType = 3
	AttrTensor AttrType = 4
	AttrFloats AttrType = 6
	AttrInts   AttrType = 7
)

// Opset is an OperatorSetIdProto: an operator domain ("" is the default ONNX
// domain) and its version.
type Opset struct {
	Domain  string
	Version int64
}

// Model is an ONNX ModelProto.
type Model struct {
	IRVersion       int64
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	Graph           Graph
	Opsets          []Opset
}

// Graph is an ONNX GraphProto.
type Graph struct {
	Nodes        []Node
	Name         string
	Initializers []Tensor
	DocString    string
	Inputs       []ValueInfo
	Outputs      []ValueInfo
	ValueInfo    []ValueInfo
}

// Node is an ONNX NodeProto.
type Node struct {
	Inputs  []string
	Outputs []string
	Name    string
	OpType  string
	Attrs   []Attr
	Domain  string
}

// Attr is an ONNX AttributeProto. Only the field selected by Type is encoded.
type Attr struct {
	Name   string
	Type   AttrType
	F      float32
	I      int64
	S      []byte
	T      *Tensor
	Floats []float32
	Ints   []int64
}

// Tensor is an ONNX TensorProto holding its data in raw_data (little-endian).
type Tensor struct {
	Dims     []int64
	DataType DataType
	Name     string
	Raw      []byte
}

// Dim is one dimension of a tensor shape: a fixed Value, or a symbolic Param
// when Param is not empty.
type Dim struct {
	Value int64
	Param string
}

// ValueInfo is an ONNX ValueInfoProto for a tensor: its name, element type and
// shape.
type ValueInfo struct {
	Name     string
	ElemType DataType
	Dims     []Dim
}

// FloatTensor returns a float32 tensor with the given name, shape and data.
// It returns an error if len(data) does not match the shape.
func FloatTensor(name string, dims []int64, data []float32) (Tensor, error) {
	if n, ok := elements(dims); !ok || n != int64(len(data)) {
		return Tensor{}, fmt.Errorf("onnxgen: tensor %q: shape %v does not hold %d values", name, dims, len(data))
	}
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return Tensor{Dims: append([]int64(nil), dims...), DataType: Float, Name: name, Raw: raw}, nil
}

// Int64Tensor returns an int64 tensor with the given name, shape and data.
// It returns an error if len(data) does not match the shape.
func Int64Tensor(name string, dims []int64, data []int64) (Tensor, error) {
	if n, ok := elements(dims); !ok || n != int64(len(data)) {
		return Tensor{}, fmt.Errorf("onnxgen: tensor %q: shape %v does not hold %d values", name, dims, len(data))
	}
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return Tensor{Dims: append([]int64(nil), dims...), DataType: Int64, Name: name, Raw: raw}, nil
}

// Elements returns the number of elements t's shape holds.
func (t *Tensor) Elements() int64 {
	n, _ := elements(t.Dims)
	return n
}

// Floats decodes a float32 tensor's data.
func (t *Tensor) Floats() ([]float32, error) {
	if t.DataType != Float {
		return nil, fmt.Errorf("onnxgen: tensor %q has data type %d, not float32", t.Name, t.DataType)
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	out := make([]float32, len(t.Raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Raw[4*i:]))
	}
	return out, nil
}

// Int64s decodes an int64 tensor's data.
func (t *Tensor) Int64s() ([]int64, error) {
	if t.DataType != Int64 {
		return nil, fmt.Errorf("onnxgen: tensor %q has data type %d, not int64", t.Name, t.DataType)
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	out := make([]int64, len(t.Raw)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(t.Raw[8*i:]))
	}
	return out, nil
}

func (t *Tensor) check() error {
	n, ok := elements(t.Dims)
	if !ok || n*int64(t.DataType.size()) != int64(len(t.Raw)) {
		return fmt.Errorf("onnxgen: tensor %q: shape %v does not match %d bytes of data", t.Name, t.Dims, len(t.Raw))
	}
	return nil
}

// elements multiplies dims, reporting false for a negative dimension or overflow.
func elements(dims []int64) (int64, bool) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 || (d > 0 && n > math.MaxInt64/d) {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// Marshal encodes m as an ONNX ModelProto.
func Marshal(m *Model) []byte {
	var b []byte
	b = appendInt(b, 1, m.IRVersion)
	b = appendString(b, 2, m.ProducerName)
	b = appendString(b, 3, m.ProducerVersion)
	b = appendString(b, 4, m.Domain)
	b = appendInt(b, 5, m.ModelVersion)
	b = appendString(b, 6, m.DocString)
	b = appendMessage(b, 7, marshalGraph(&m.Graph))
	for _, o := range m.Opsets {
		var ob []byte
		ob = appendString(ob, 1, o.Domain)
		ob = protowire.AppendTag(ob, 2, protowire.VarintType)
		ob = protowire.AppendVarint(ob, uint64(o.Version))
		b = appendMessage(b, 8, ob)
	}
	return b
}

func marshalGraph(g *Graph) []byte {
	var b []byte
	for i := range g.Nodes {
		b = appendMessage(b, 1, marshalNode(&g.Nodes[i]))
	}
	b = appendString(b, 2, g.Name)
	for i := range g.Initializers {
		b = appendMessage(b, 5, marshalTensor(&g.Initializers[i]))
	}
	b = appendString(b, 10, g.DocString)
	for _, list := range []struct {
		num protowire.Number
		vis []ValueInfo
	}{{11, g.Inputs}, {12, g.Outputs}, {13, g.ValueInfo}} {
		for i := range list.vis {
			b = appendMessage(b, list.num, marshalValueInfo(&list.vis[i]))
		}
	}
	return b
}

func marshalNode(n *Node) []byte {
	var b []byte
	for _, s := range n.Inputs {
		b = appendStringAlways(b, 1, s)
	}
	for _, s := range n.Outputs {
		b = appendStringAlways(b, 2, s)
	}
	b = appendString(b, 3, n.Name)
	b = appendString(b, 4, n.OpType)
	for i := range n.Attrs {
		b = appendMessage(b, 5, marshalAttr(&n.Attrs[i]))
	}
	b = appendString(b, 7, n.Domain)
	return b
}

func marshalAttr(a *Attr) []byte {
	var b []byte
	b = appendStringAlways(b, 1, a.Name)
	switch a.Type {
	case AttrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	case AttrInt:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.I))
	case AttrString:
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, a.S)
	case AttrTensor:
		var t []byte
		if a.T != nil {
			t = marshalTensor(a.T)
		}
		b = appendMessage(b, 5, t)
	case AttrFloats:
		for _, f := range a.Floats {
			b = protowire.AppendTag(b, 7, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, math.Float32bits(f))
		}
	case AttrInts:
		for _, i := range a.Ints {
			b = protowire.AppendTag(b, 8, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(i))
		}
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(a.Type))
	return b
}

func marshalTensor(t *Tensor) []byte {
	var b []byte
	for _, d := range t.Dims {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.DataType))
	b = appendString(b, 8, t.Name)
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	b = protowire.AppendBytes(b, t.Raw)
	return b
}

func marshalValueInfo(v *ValueInfo) []byte {
	var shape []byte
	for _, d := range v.Dims {
		var db []byte
		if d.Param != "" {
			db = appendStringAlways(db, 2, d.Param)
		} else {
			db = protowire.AppendTag(db, 1, protowire.VarintType)
			db = protowire.AppendVarint(db, uint64(d.Value))
		}
		shape = appendMessage(shape, 1, db)
	}
	var tensor []byte
	tensor = protowire.AppendTag(tensor, 1, protowire.VarintType)
	tensor = protowire.AppendVarint(tensor, uint64(v.ElemType))
	tensor = appendMessage(tensor, 2, shape)
	var typ []byte
	typ = appendMessage(typ, 1, tensor)
	var b []byte
	b = appendStringAlways(b, 1, v.Name)
	b = appendMessage(b, 2, typ)
	return b
}

func appendInt(b []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	return appendStringAlways(b, num, s)
}

func appendStringAlways(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

// ErrMalformed is wrapped by every error Unmarshal returns for bad input.
var ErrMalformed = errors.New("malformed ONNX model")
