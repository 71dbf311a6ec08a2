package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/onnxgen"
	"github.com/vouchsafe/vouchsafe/models"
)

func writeModel(t *testing.T, m *onnxgen.Model) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(p, onnxgen.Marshal(m), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeSeed(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "seed.dat")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// flattenModel is image -> Flatten -> out, with the given shapes.
func flattenModel(in, out []onnxgen.Dim) *onnxgen.Model {
	return &onnxgen.Model{
		IRVersion: 8,
		Opsets:    []onnxgen.Opset{{Version: 17}},
		Graph: onnxgen.Graph{
			Name:    "wrong",
			Nodes:   []onnxgen.Node{{OpType: "Flatten", Inputs: []string{"image"}, Outputs: []string{"out"}}},
			Inputs:  []onnxgen.ValueInfo{{Name: "image", ElemType: onnxgen.Float, Dims: in}},
			Outputs: []onnxgen.ValueInfo{{Name: "out", ElemType: onnxgen.Float, Dims: out}},
		},
	}
}

func dims(vs ...int64) []onnxgen.Dim {
	d := make([]onnxgen.Dim, len(vs))
	for i, v := range vs {
		if v < 0 {
			d[i].Param = "N"
		} else {
			d[i].Value = v
		}
	}
	return d
}

// A model without NeuralHash's shapes is refused at load with a clear error.
func TestModelShapeChecks(t *testing.T) {
	requireORT(t)
	seed := writeSeed(t, models.Default().Seed)
	for _, c := range []struct {
		name  string
		model string
		want  string
	}{
		{"fail_input_channels", writeModel(t, flattenModel(dims(-1, 1, 360, 360), dims(-1, 129600))), "want [N 3 360 360]"},
		{"fail_input_size", writeModel(t, flattenModel(dims(-1, 3, 224, 224), dims(-1, 150528))), "want [N 3 360 360]"},
		{"fail_output_size", writeModel(t, flattenModel(dims(-1, 3, 360, 360), dims(-1, 388800))), "388800 values per image"},
		{"fail_not_onnx", writeSeed(t, []byte("definitely not protobuf")), "not a loadable ONNX model"},
		{"fail_empty", writeSeed(t, nil), "empty file"},
	} {
		_, err := NewHasher(Options{Model: c.model, Seed: seed})
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.model) {
			t.Errorf("%s: error %q does not say %q and name the file", c.name, err, c.want)
		}
		if strings.HasPrefix(c.name, "fail_input") || strings.HasPrefix(c.name, "fail_output") {
			if !errors.Is(err, ErrModelShape) {
				t.Errorf("%s: %v is not ErrModelShape", c.name, err)
			}
		}
	}
}

// Apple's exported model has a fixed batch of 1 and a [1,128,1,1] output. Such
// a model is run one image per call and gives the same hashes as the
// dynamic-batch original.
func TestFixedBatchModel(t *testing.T) {
	requireORT(t)
	base := newTestHasher(t, Options{Batch: 8})
	m, err := onnxgen.Unmarshal(models.Default().ONNX)
	if err != nil {
		t.Fatal(err)
	}
	g := &m.Graph
	g.Inputs[0].Dims[0] = onnxgen.Dim{Value: 1}
	shape, err := onnxgen.Int64Tensor("apple_shape", []int64{4}, []int64{1, 128, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	g.Initializers = append(g.Initializers, shape)
	old := g.Outputs[0].Name
	g.Nodes = append(g.Nodes, onnxgen.Node{OpType: "Reshape", Name: "apple_reshape", Inputs: []string{old, "apple_shape"}, Outputs: []string{"leaf/logits"}})
	g.Outputs = []onnxgen.ValueInfo{{Name: "leaf/logits", ElemType: onnxgen.Float, Dims: dims(1, 128, 1, 1)}}
	fixed := newTestHasher(t, Options{Model: writeModel(t, m), Seed: writeSeed(t, models.Default().Seed), Batch: 8})
	if fixed.fixedBatch != 1 {
		t.Fatalf("fixed batch = %d, want 1", fixed.fixedBatch)
	}
	ps := photos(t)[:11] // a short final batch too
	want := runAll(t, base, ps)
	got := runAll(t, fixed, ps)
	for i := range ps {
		if got[i].Err != nil || got[i].Hash != want[i].Hash {
			t.Errorf("%s: fixed-batch model gave %s (%v), dynamic %s", ps[i], got[i].Hash, got[i].Err, want[i].Hash)
		}
	}
}

// A seed file replaces the embedded one, and a model file needs one.
func TestSeedOptions(t *testing.T) {
	requireORT(t)
	if _, err := NewHasher(Options{Model: writeSeed(t, models.Default().ONNX)}); err == nil || !strings.Contains(err.Error(), "needs its seed file") {
		t.Errorf("model without seed: %v", err)
	}
	if _, err := NewHasher(Options{Seed: writeSeed(t, []byte("short"))}); !errors.Is(err, ErrSeedSize) {
		t.Errorf("short seed: %v", err)
	}
	if _, err := NewHasher(Options{Seed: filepath.Join(t.TempDir(), "missing.dat")}); err == nil || !strings.Contains(err.Error(), "missing.dat") {
		t.Errorf("missing seed: %v", err)
	}
}

// The pure-Go default model (used by builds without cgo) hashes as the ONNX
// graph does under ONNX Runtime.
func TestGoDefaultMatchesORT(t *testing.T) {
	requireORT(t)
	h := newTestHasher(t, Options{Batch: 4})
	g := *h
	g.sess = goDefault{}
	if err := g.checkShapes(); err != nil {
		t.Fatal(err)
	}
	ps := photos(t)
	want := runAll(t, h, ps)
	got := runAll(t, &g, ps)
	total := 0
	for i := range ps {
		d := Distance(got[i].Hash, want[i].Hash)
		total += d
		if d > 1 {
			t.Errorf("%s: Go %s, ONNX Runtime %s", ps[i], got[i].Hash, want[i].Hash)
		}
	}
	t.Logf("%d photos, %d bits differ in all", len(ps), total)
}
