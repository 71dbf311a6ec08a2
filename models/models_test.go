//go:build cgo

package models

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/vouchsafe/vouchsafe/internal/modelgen"
)

// ortErr is why ONNX Runtime is unavailable ("" when it was initialised).
var ortErr string

// TestMain initialises ONNX Runtime once for the package, from
// $VOUCHSAFE_ORT_DIR (set by `make test`) or the repository's .cache/ort.
func TestMain(m *testing.M) {
	dir := os.Getenv("VOUCHSAFE_ORT_DIR")
	if dir == "" {
		dir = filepath.Join("..", ".cache", "ort")
	}
	lib := filepath.Join(dir, "libonnxruntime.so.1")
	if _, err := os.Stat(lib); err != nil {
		ortErr = fmt.Sprintf("ONNX Runtime library not found (%v); run `make ort` or set VOUCHSAFE_ORT_DIR", err)
	} else {
		// Keep ONNX Runtime's telemetry client from starting, as internal/ort does.
		os.Setenv("ORT_DISABLE_TELEMETRY", "1")
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			ortErr = fmt.Sprintf("initialising ONNX Runtime from %s: %v", lib, err)
		}
	}
	code := m.Run()
	if ortErr == "" {
		ort.DestroyEnvironment()
	}
	os.Exit(code)
}

func needORT(tb testing.TB) {
	tb.Helper()
	if ortErr != "" {
		// CI always has it (make test fetches it): a skip there would hide
		// the model tests.
		if os.Getenv("CI") == "true" {
			tb.Fatalf("CI=true but %s", ortErr)
		}
		tb.Skip(ortErr)
	}
}

// session is a loaded model with a single-threaded or default CPU session.
type session struct {
	s *ort.DynamicAdvancedSession
}

func open(tb testing.TB, m Model, threads int) *session {
	tb.Helper()
	opts, err := ort.NewSessionOptions()
	if err != nil {
		tb.Fatal(err)
	}
	defer opts.Destroy()
	if threads > 0 {
		if err := opts.SetIntraOpNumThreads(threads); err != nil {
			tb.Fatal(err)
		}
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(m.ONNX, []string{"image"}, []string{"embedding"}, opts)
	if err != nil {
		tb.Fatalf("model %s: %v", m.Name, err)
	}
	tb.Cleanup(func() { s.Destroy() })
	return &session{s}
}

// run infers a batch of n images (n×3×360×360 values) into out (n×128).
func (s *session) run(tb testing.TB, in []float32, n int, out []float32) {
	tb.Helper()
	it, err := ort.NewTensor(ort.NewShape(int64(n), 3, 360, 360), in)
	if err != nil {
		tb.Fatal(err)
	}
	defer it.Destroy()
	ot, err := ort.NewTensor(ort.NewShape(int64(n), 128), out)
	if err != nil {
		tb.Fatal(err)
	}
	defer ot.Destroy()
	if err := s.s.Run([]ort.Value{it}, []ort.Value{ot}); err != nil {
		tb.Fatal(err)
	}
}

// testImage returns a deterministic synthetic image in [-1,1]: smooth
// gradients and blobs plus seeded noise, different for each seed.
func testImage(seed uint64) []float32 {
	img := make([]float32, 3*360*360)
	s := seed*0x9e3779b97f4a7c15 + 1
	next := func() float64 {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		return float64(s>>11) * 0x1p-53
	}
	var cx, cy, fx, fy [3]float64
	for c := range 3 {
		cx[c], cy[c], fx[c], fy[c] = 360*next(), 360*next(), 2+20*next(), 2+20*next()
	}
	for c := range 3 {
		for y := range 360 {
			for x := range 360 {
				dx, dy := float64(x)-cx[c], float64(y)-cy[c]
				v := 0.5*math.Sin(float64(x)/fx[c])*math.Cos(float64(y)/fy[c]) +
					0.4*math.Exp(-(dx*dx+dy*dy)/8000) + 0.2*(next()-0.5)
				img[c*360*360+y*360+x] = float32(min(max(v, -1), 1))
			}
		}
	}
	return img
}

func TestInputOutputInfo(t *testing.T) {
	needORT(t)
	for _, m := range []Model{Default(), Bench()} {
		ins, outs, err := ort.GetInputOutputInfoWithONNXData(m.ONNX)
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if len(ins) != 1 || len(outs) != 1 {
			t.Fatalf("%s: %d inputs, %d outputs", m.Name, len(ins), len(outs))
		}
		in, out := ins[0], outs[0]
		if in.Name != "image" || in.DataType != ort.TensorElementDataTypeFloat ||
			fmt.Sprint(in.Dimensions) != "[-1 3 360 360]" {
			t.Errorf("%s: input %s", m.Name, in)
		}
		if out.Name != "embedding" || out.DataType != ort.TensorElementDataTypeFloat ||
			fmt.Sprint(out.Dimensions) != "[-1 128]" {
			t.Errorf("%s: output %s", m.Name, out)
		}
	}
}

// TestDefaultMatchesReference runs the default model through ONNX Runtime on a
// batch of synthetic images and compares with the pure-Go reference.
func TestDefaultMatchesReference(t *testing.T) {
	needORT(t)
	s := open(t, Default(), 1)
	const n = 3
	in := make([]float32, 0, n*3*360*360)
	for i := range n {
		in = append(in, testImage(uint64(i))...)
	}
	out := make([]float32, n*128)
	s.run(t, in, n, out)
	seed := seedMatrix(t, Default().Seed)
	for i := range n {
		want := modelgen.DefaultEmbedding(in[i*3*360*360 : (i+1)*3*360*360])
		got := out[i*128 : (i+1)*128]
		scale := 0.0
		for _, v := range want {
			scale = max(scale, math.Abs(float64(v)))
		}
		for j := range want {
			if d := math.Abs(float64(got[j] - want[j])); d > 1e-4*scale+1e-6 {
				t.Errorf("image %d coefficient %d: ORT %g, reference %g", i, j, got[j], want[j])
			}
		}
		if !bytes.Equal(modelgen.Hash(seed, got), modelgen.Hash(seed, want)) {
			t.Logf("image %d: hash differs between ORT and reference (a coefficient is at the threshold)", i)
		}
	}
}

// TestBenchOutputs checks the bench model gives finite, non-constant,
// image-dependent embeddings, and that a batch of 4 equals 4 single runs.
func TestBenchOutputs(t *testing.T) {
	needORT(t)
	s := open(t, Bench(), 0)
	const n = 4
	in := make([]float32, 0, n*3*360*360)
	for i := range n {
		in = append(in, testImage(uint64(10+i))...)
	}
	batch := make([]float32, n*128)
	s.run(t, in, n, batch)
	for i := range n {
		one := make([]float32, 128)
		s.run(t, in[i*3*360*360:(i+1)*3*360*360], 1, one)
		lo, hi := math.Inf(1), math.Inf(-1)
		for j, v := range one {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("image %d output %d is %v", i, j, v)
			}
			lo, hi = min(lo, float64(v)), max(hi, float64(v))
			if d := math.Abs(float64(v - batch[i*128+j])); d > 1e-4*(1+math.Abs(float64(v))) {
				t.Errorf("image %d output %d: batch %g, single %g", i, j, batch[i*128+j], v)
			}
		}
		if hi-lo < 1e-3 {
			t.Errorf("image %d: outputs nearly constant (%g to %g)", i, lo, hi)
		}
	}
	// Different images must give different embeddings.
	diff := 0.0
	for j := range 128 {
		diff = max(diff, math.Abs(float64(batch[j]-batch[128+j])))
	}
	if diff < 1e-3 {
		t.Errorf("images 0 and 1 give the same embedding (max difference %g)", diff)
	}
}
