package onnxgen

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Unmarshal decodes an ONNX ModelProto into a Model. Fields outside the subset
// this package models (subgraphs, sparse tensors, metadata, typed data fields
// other than raw_data, ...) are skipped; tensors keep only raw_data. Errors wrap
// ErrMalformed and say which message failed to parse.
func Unmarshal(b []byte) (*Model, error) {
	m := new(Model)
	err := fields(b, "ModelProto", func(num protowire.Number, typ protowire.Type, v field) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			m.IRVersion = int64(v.u)
		case num == 2 && typ == protowire.BytesType:
			m.ProducerName = string(v.b)
		case num == 3 && typ == protowire.BytesType:
			m.ProducerVersion = string(v.b)
		case num == 4 && typ == protowire.BytesType:
			m.Domain = string(v.b)
		case num == 5 && typ == protowire.VarintType:
			m.ModelVersion = int64(v.u)
		case num == 6 && typ == protowire.BytesType:
			m.DocString = string(v.b)
		case num == 7 && typ == protowire.BytesType:
			return unmarshalGraph(v.b, &m.Graph)
		case num == 8 && typ == protowire.BytesType:
			var o Opset
			err := fields(v.b, "OperatorSetIdProto", func(num protowire.Number, typ protowire.Type, v field) error {
				switch {
				case num == 1 && typ == protowire.BytesType:
					o.Domain = string(v.b)
				case num == 2 && typ == protowire.VarintType:
					o.Version = int64(v.u)
				}
				return nil
			})
			m.Opsets = append(m.Opsets, o)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func unmarshalGraph(b []byte, g *Graph) error {
	return fields(b, "GraphProto", func(num protowire.Number, typ protowire.Type, v field) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			var n Node
			if err := unmarshalNode(v.b, &n); err != nil {
				return err
			}
			g.Nodes = append(g.Nodes, n)
		case 2:
			g.Name = string(v.b)
		case 5:
			var t Tensor
			if err := unmarshalTensor(v.b, &t); err != nil {
				return err
			}
			g.Initializers = append(g.Initializers, t)
		case 10:
			g.DocString = string(v.b)
		case 11, 12, 13:
			var vi ValueInfo
			if err := unmarshalValueInfo(v.b, &vi); err != nil {
				return err
			}
			switch num {
			case 11:
				g.Inputs = append(g.Inputs, vi)
			case 12:
				g.Outputs = append(g.Outputs, vi)
			default:
				g.ValueInfo = append(g.ValueInfo, vi)
			}
		}
		return nil
	})
}

func unmarshalNode(b []byte, n *Node) error {
	return fields(b, "NodeProto", func(num protowire.Number, typ protowire.Type, v field) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			n.Inputs = append(n.Inputs, string(v.b))
		case 2:
			n.Outputs = append(n.Outputs, string(v.b))
		case 3:
			n.Name = string(v.b)
		case 4:
			n.OpType = string(v.b)
		case 5:
			var a Attr
			if err := unmarshalAttr(v.b, &a); err != nil {
				return err
			}
			n.Attrs = append(n.Attrs, a)
		case 7:
			n.Domain = string(v.b)
		}
		return nil
	})
}

func unmarshalAttr(b []byte, a *Attr) error {
	err := fields(b, "AttributeProto", func(num protowire.Number, typ protowire.Type, v field) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			a.Name = string(v.b)
		case num == 2 && typ == protowire.Fixed32Type:
			a.F = math.Float32frombits(uint32(v.u))
		case num == 3 && typ == protowire.VarintType:
			a.I = int64(v.u)
		case num == 4 && typ == protowire.BytesType:
			a.S = append([]byte{}, v.b...)
		case num == 5 && typ == protowire.BytesType:
			a.T = new(Tensor)
			return unmarshalTensor(v.b, a.T)
		case num == 7 && typ == protowire.Fixed32Type:
			a.Floats = append(a.Floats, math.Float32frombits(uint32(v.u)))
		case num == 7 && typ == protowire.BytesType: // packed
			for p := v.b; len(p) > 0; {
				x, n := protowire.ConsumeFixed32(p)
				if n < 0 {
					return fmt.Errorf("%w: AttributeProto %q: packed floats: %v", ErrMalformed, a.Name, protowire.ParseError(n))
				}
				a.Floats = append(a.Floats, math.Float32frombits(x))
				p = p[n:]
			}
		case num == 8 && typ == protowire.VarintType:
			a.Ints = append(a.Ints, int64(v.u))
		case num == 8 && typ == protowire.BytesType: // packed
			ints, err := packedVarints(v.b, "AttributeProto ints")
			a.Ints = append(a.Ints, ints...)
			return err
		case num == 20 && typ == protowire.VarintType:
			a.Type = AttrType(int32(v.u))
		}
		return nil
	})
	if err != nil {
		return err
	}
	// ONNX requires the tensor of a TENSOR attribute; without one, Marshal
	// would have to invent an empty tensor and the model would not round-trip.
	if a.Type == AttrTensor && a.T == nil {
		return fmt.Errorf("%w: AttributeProto %q: TENSOR attribute without a tensor", ErrMalformed, a.Name)
	}
	return nil
}

func unmarshalTensor(b []byte, t *Tensor) error {
	return fields(b, "TensorProto", func(num protowire.Number, typ protowire.Type, v field) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			t.Dims = append(t.Dims, int64(v.u))
		case num == 1 && typ == protowire.BytesType: // packed
			dims, err := packedVarints(v.b, "TensorProto dims")
			t.Dims = append(t.Dims, dims...)
			return err
		case num == 2 && typ == protowire.VarintType:
			t.DataType = DataType(int32(v.u))
		case num == 8 && typ == protowire.BytesType:
			t.Name = string(v.b)
		case num == 9 && typ == protowire.BytesType:
			t.Raw = append([]byte{}, v.b...)
		}
		return nil
	})
}

func unmarshalValueInfo(b []byte, vi *ValueInfo) error {
	return fields(b, "ValueInfoProto", func(num protowire.Number, typ protowire.Type, v field) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			vi.Name = string(v.b)
		case num == 2 && typ == protowire.BytesType:
			return fields(v.b, "TypeProto", func(num protowire.Number, typ protowire.Type, v field) error {
				if num != 1 || typ != protowire.BytesType {
					return nil // not a tensor type: left empty
				}
				return fields(v.b, "TypeProto.Tensor", func(num protowire.Number, typ protowire.Type, v field) error {
					switch {
					case num == 1 && typ == protowire.VarintType:
						vi.ElemType = DataType(int32(v.u))
					case num == 2 && typ == protowire.BytesType:
						vi.Dims = vi.Dims[:0]
						return fields(v.b, "TensorShapeProto", func(num protowire.Number, typ protowire.Type, v field) error {
							if num != 1 || typ != protowire.BytesType {
								return nil
							}
							var d Dim
							err := fields(v.b, "TensorShapeProto.Dimension", func(num protowire.Number, typ protowire.Type, v field) error {
								switch {
								case num == 1 && typ == protowire.VarintType:
									d.Value, d.Param = int64(v.u), ""
								case num == 2 && typ == protowire.BytesType:
									d.Value, d.Param = 0, string(v.b)
								}
								return nil
							})
							vi.Dims = append(vi.Dims, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
}

func packedVarints(b []byte, what string) ([]int64, error) {
	var out []int64
	for len(b) > 0 {
		x, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return out, fmt.Errorf("%w: %s: %v", ErrMalformed, what, protowire.ParseError(n))
		}
		out = append(out, int64(x))
		b = b[n:]
	}
	return out, nil
}

// field is one decoded field value: u for varint and fixed types, b for
// length-delimited ones.
type field struct {
	u uint64
	b []byte
}

// fields calls fn for each field of the message in b, in order. Groups are
// rejected (ONNX does not use them).
func fields(b []byte, msg string, fn func(protowire.Number, protowire.Type, field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %s: tag: %v", ErrMalformed, msg, protowire.ParseError(n))
		}
		b = b[n:]
		var v field
		switch typ {
		case protowire.VarintType:
			v.u, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v.u = uint64(x)
		case protowire.Fixed64Type:
			v.u, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v.b, n = protowire.ConsumeBytes(b)
		default:
			return fmt.Errorf("%w: %s: field %d has unsupported wire type %d", ErrMalformed, msg, num, typ)
		}
		if n < 0 {
			return fmt.Errorf("%w: %s: field %d: %v", ErrMalformed, msg, num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v); err != nil {
			return err
		}
	}
	return nil
}
