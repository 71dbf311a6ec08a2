package onnxgen

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// tinyModel returns a small model exercising every encoded field.
func tinyModel(t testing.TB) *Model {
	w, err := FloatTensor("w", []int64{2, 2}, []float32{1, -2, 0.5, 3})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := Int64Tensor("idx", []int64{2}, []int64{1, -1})
	if err != nil {
		t.Fatal(err)
	}
	return &Model{
		IRVersion:       8,
		ProducerName:    "test",
		ProducerVersion: "1",
		Domain:          "example",
		ModelVersion:    3,
		DocString:       "doc",
		Opsets:          []Opset{{"", 17}, {"com.microsoft", 1}},
		Graph: Graph{
			Name:         "g",
			DocString:    "graph doc",
			Initializers: []Tensor{w, idx},
			Nodes: []Node{
				{Inputs: []string{"x", "w"}, Outputs: []string{"y"}, Name: "mm", OpType: "MatMul"},
				{Inputs: []string{"y", "idx"}, Outputs: []string{"z"}, Name: "ga", OpType: "Gather", Domain: "",
					Attrs: []Attr{
						{Name: "axis", Type: AttrInt, I: -1},
						{Name: "alpha", Type: AttrFloat, F: 0.25},
						{Name: "mode", Type: AttrString, S: []byte("x")},
						{Name: "k", Type: AttrInts, Ints: []int64{1, 2, -3}},
						{Name: "fs", Type: AttrFloats, Floats: []float32{1.5, -2}},
						{Name: "t", Type: AttrTensor, T: &w},
					}},
			},
			Inputs:    []ValueInfo{{Name: "x", ElemType: Float, Dims: []Dim{{Param: "N"}, {Value: 2}}}},
			Outputs:   []ValueInfo{{Name: "z", ElemType: Float, Dims: []Dim{{Param: "N"}, {Value: 2}}}},
			ValueInfo: []ValueInfo{{Name: "y", ElemType: Float, Dims: []Dim{{Param: "N"}, {Value: 2}}}},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	m := tinyModel(t)
	b := Marshal(m)
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip changed the model:\n got %+v\nwant %+v", got, m)
	}
	if !bytes.Equal(Marshal(got), b) {
		t.Error("re-encoding the parsed model gives different bytes")
	}
	w, err := got.Graph.Initializers[0].Floats()
	if err != nil || !reflect.DeepEqual(w, []float32{1, -2, 0.5, 3}) {
		t.Errorf("Floats() = %v, %v", w, err)
	}
	idx, err := got.Graph.Initializers[1].Int64s()
	if err != nil || !reflect.DeepEqual(idx, []int64{1, -1}) {
		t.Errorf("Int64s() = %v, %v", idx, err)
	}
	if _, err := got.Graph.Initializers[1].Floats(); err == nil {
		t.Error("Floats() of an int64 tensor succeeded")
	}
}

// TestKnownAnswer pins the encoding of a one-node model, worked out by hand
// from onnx.proto's field numbers.
func TestKnownAnswer(t *testing.T) {
	m := &Model{IRVersion: 8, Opsets: []Opset{{"", 17}}, Graph: Graph{
		Nodes:  []Node{{Inputs: []string{"x"}, Outputs: []string{"y"}, OpType: "Relu"}},
		Inputs: []ValueInfo{{Name: "x", ElemType: Float, Dims: []Dim{{Param: "N"}}}},
	}}
	got := hex.EncodeToString(Marshal(m))
	// ir_version 8; graph (32 bytes): node (12 bytes: input "x", output "y",
	// op_type "Relu"), input value_info "x" (type → tensor_type → elem_type 1,
	// shape → dim → dim_param "N"); opset_import version 17.
	want := "0808" + "3a20" +
		"0a0c" + "0a0178" + "120179" + "2204" + hex.EncodeToString([]byte("Relu")) +
		"5a10" + "0a0178" + "120b" + "0a09" + "0801" + "1205" + "0a03" + "12014e" +
		"4202" + "1011"
	if got != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, want)
	}
}

func TestTensorShapeMismatch(t *testing.T) {
	if _, err := FloatTensor("w", []int64{2, 3}, make([]float32, 5)); err == nil || !strings.Contains(err.Error(), `"w"`) {
		t.Errorf("FloatTensor with a bad shape: %v", err)
	}
	if _, err := Int64Tensor("i", []int64{-1}, nil); err == nil {
		t.Error("Int64Tensor with a negative dimension succeeded")
	}
	bad := Tensor{Name: "t", DataType: Float, Dims: []int64{3}, Raw: make([]byte, 8)}
	if _, err := bad.Floats(); err == nil {
		t.Error("Floats() with short data succeeded")
	}
}

// TestFiles parses testdata/good_* (which must round-trip) and fail_* (which
// must be rejected with ErrMalformed).
func TestFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.onnx")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Unmarshal(b)
		switch base := filepath.Base(f); {
		case strings.HasPrefix(base, "good_"):
			if err != nil {
				t.Errorf("%s: %v", base, err)
			} else if !bytes.Equal(Marshal(m), b) {
				t.Errorf("%s: does not re-encode to the same bytes", base)
			}
		case strings.HasPrefix(base, "fail_"):
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: err = %v, want ErrMalformed", base, err)
			}
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add(Marshal(tinyModel(f)))
	f.Add([]byte{})
	f.Add([]byte{0x3a, 0x05, 0x0a, 0x03, 0x0a, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Unmarshal(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		// Whatever parsed must survive a re-encode and parse unchanged.
		m2, err := Unmarshal(Marshal(m))
		if err != nil {
			t.Fatalf("re-encoded model does not parse: %v", err)
		}
		if !bytes.Equal(Marshal(m), Marshal(m2)) {
			t.Fatalf("re-encoding is not stable:\n%+v\n%+v", m, m2)
		}
		for i := range m.Graph.Initializers {
			m.Graph.Initializers[i].Floats()
			m.Graph.Initializers[i].Int64s()
		}
	})
}
