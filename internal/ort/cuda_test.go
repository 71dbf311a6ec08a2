//go:build cgo && linux

package ort

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/onnxgen"
	"github.com/vouchsafe/vouchsafe/models"
)

func TestDlopenGlobal(t *testing.T) {
	if err := dlopenGlobal("libm.so.6"); err != nil {
		t.Errorf("dlopen libm.so.6: %v", err)
	}
	p := filepath.Join(t.TempDir(), "libnothing.so")
	if err := dlopenGlobal(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("dlopen of a missing file: err = %v, want one naming %s", err, p)
	}
	empty := filepath.Join(t.TempDir(), "libempty.so.1")
	os.WriteFile(empty, nil, 0o644)
	if err := dlopenGlobal(empty); err == nil {
		t.Error("dlopen of an empty file succeeded")
	}
}

// testLibrary finds libonnxruntime.so.1 (from `make ort`), or skips.
func testLibrary(t testing.TB) string {
	t.Helper()
	if p, err := FindLibrary(""); err == nil {
		return p
	}
	for d, _ := filepath.Abs("."); d != filepath.Dir(d); d = filepath.Dir(d) {
		p := filepath.Join(d, ".cache", "ort", LibraryName())
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no ONNX Runtime library: run `make ort`")
	return ""
}

func testModel(t *testing.T, name string) []byte {
	t.Helper()
	m, ok := models.Lookup(name)
	if !ok {
		t.Fatalf("no embedded model %q", name)
	}
	return m.ONNX
}

// Without the provider files beside the library, asking for CUDA fails and
// says what to run.
func TestOpenCUDAWithoutProvider(t *testing.T) {
	lib := testLibrary(t)
	if checkProviderFiles(lib) == nil {
		t.Skip("the CUDA provider is installed beside " + lib)
	}
	if _, err := Init(lib); err != nil {
		t.Fatal(err)
	}
	_, err := Open(testModel(t, "bench"), "bench", Options{Device: CUDA})
	if err == nil || !strings.Contains(err.Error(), cudaProviderFile) || !strings.Contains(err.Error(), "make ort-cuda") {
		t.Fatalf("Open on cuda without the provider: err = %v", err)
	}
}

// cudaOrSkip returns the ONNX Runtime library if the CUDA provider and an
// NVIDIA driver are present, and skips the test otherwise.
func cudaOrSkip(t *testing.T) string {
	t.Helper()
	lib := testLibrary(t)
	if err := checkProviderFiles(lib); err != nil {
		t.Skipf("no CUDA provider (make ort-cuda): %v", err)
	}
	driver := cudaLibs[:1]
	if driver[0].soname != "libcuda.so.1" {
		t.Fatal("cudaLibs must start with the driver")
	}
	s := cudaSearch{root: "/", getenv: os.Getenv, ortDir: filepath.Dir(lib)}
	if err := loadCUDALibs(driver, s, dlopenGlobal); err != nil {
		t.Skipf("no NVIDIA driver: %v", err)
	}
	return lib
}

// On a machine with a GPU, the CUDA provider's embeddings match the CPU's on
// random input, for both embedded models and a few batch sizes.
func TestCUDAMatchesCPU(t *testing.T) {
	lib := cudaOrSkip(t)
	if _, err := Init(lib); err != nil {
		t.Fatal(err)
	}
	const side, per = 360, 128
	rng := rand.New(rand.NewPCG(11, 12))
	in := make([]float32, 8*3*side*side)
	for i := range in {
		in[i] = rng.Float32()*2 - 1
	}
	for _, name := range []string{"default", "bench"} {
		model := testModel(t, name)
		cpu, err := Open(model, name, Options{Device: CPU})
		if err != nil {
			t.Fatal(err)
		}
		gpu, err := Open(model, name, Options{Device: CUDA})
		if err != nil {
			cpu.Close()
			t.Fatalf("%s on cuda: %v", name, err)
		}
		for _, n := range []int64{1, 3, 8} {
			outShape := append([]int64{n}, gpu.Output().Dims[1:]...)
			a := make([]float32, n*per)
			b := make([]float32, n*per)
			x := in[:n*3*side*side]
			if err := cpu.Run(x, []int64{n, 3, side, side}, a, outShape); err != nil {
				t.Fatalf("%s cpu batch %d: %v", name, n, err)
			}
			if err := gpu.Run(x, []int64{n, 3, side, side}, b, outShape); err != nil {
				t.Fatalf("%s cuda batch %d: %v", name, n, err)
			}
			for i := range n {
				// cuDNN may use TF32 convolutions: allow 1% relative error.
				if rel := relativeL2(a[i*per:(i+1)*per], b[i*per:(i+1)*per]); !(rel <= 1e-2) {
					t.Errorf("%s batch %d image %d: CPU and CUDA embeddings differ by %.3g (relative L2)", name, n, i, rel)
				}
			}
		}
		cpu.Close()
		gpu.Close()
	}
}

// On a machine with a GPU, both embedded models converted to float16
// (onnxgen.ConvertFloat16, what --precision fp16 loads) run on the CUDA
// provider and stay within 2% (relative L2) of the float32 model on the CPU.
func TestCUDAFloat16(t *testing.T) {
	lib := cudaOrSkip(t)
	if _, err := Init(lib); err != nil {
		t.Fatal(err)
	}
	const side, per, n = 360, 128, 4
	rng := rand.New(rand.NewPCG(13, 14))
	in := make([]float32, n*3*side*side)
	for i := range in {
		in[i] = rng.Float32()*2 - 1
	}
	for _, name := range []string{"default", "bench"} {
		model := testModel(t, name)
		half, err := onnxgen.ConvertFloat16(model)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cpu, err := Open(model, name, Options{Device: CPU})
		if err != nil {
			t.Fatal(err)
		}
		gpu, err := Open(half, name+"@fp16", Options{Device: CUDA})
		if err != nil {
			cpu.Close()
			t.Fatalf("%s fp16 on cuda: %v", name, err)
		}
		outShape := append([]int64{n}, gpu.Output().Dims[1:]...)
		a, b := make([]float32, n*per), make([]float32, n*per)
		if err := cpu.Run(in, []int64{n, 3, side, side}, a, outShape); err != nil {
			t.Fatalf("%s cpu: %v", name, err)
		}
		if err := gpu.Run(in, []int64{n, 3, side, side}, b, outShape); err != nil {
			t.Fatalf("%s fp16 cuda: %v", name, err)
		}
		for i := range n {
			rel := relativeL2(a[i*per:(i+1)*per], b[i*per:(i+1)*per])
			t.Logf("%s image %d: fp16 on CUDA vs fp32 on CPU: relative L2 %.3g", name, i, rel)
			if !(rel <= 2e-2) {
				t.Errorf("%s image %d: fp16 CUDA embedding differs from fp32 CPU by %.3g (relative L2)", name, i, rel)
			}
		}
		cpu.Close()
		gpu.Close()
	}
}

// relativeL2 returns |want - got| / |want|: for a zero want, NaN (got zero
// too) or +Inf, either of which fails every !(rel <= bound).
func relativeL2(want, got []float32) float64 {
	var diff, norm float64
	for j := range want {
		d := float64(want[j]) - float64(got[j])
		diff += d * d
		norm += float64(want[j]) * float64(want[j])
	}
	return math.Sqrt(diff / norm)
}

// BenchmarkRun times one inference call of the bench model on the CPU and,
// where present, on CUDA, for a few batch sizes (b.N calls; the figure that
// matters is ns/op divided by the batch). On a GPU machine without Go, run the
// compiled test binary: ort.test -test.run '^$' -test.bench Run.
func BenchmarkRun(b *testing.B) {
	lib := testLibrary(b)
	if _, err := Init(lib); err != nil {
		b.Fatal(err)
	}
	devices := []Device{CPU}
	if checkProviderFiles(lib) == nil && loadCUDALibs(cudaLibs[:1], cudaSearch{root: "/", getenv: os.Getenv, ortDir: filepath.Dir(lib)}, dlopenGlobal) == nil {
		devices = append(devices, CUDA)
	}
	m, _ := models.Lookup("bench")
	const side, per = 360, 128
	for _, d := range devices {
		s, err := Open(m.ONNX, "bench", Options{Device: d})
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int64{1, 16, 128} {
			if d == CPU && n > 16 {
				continue
			}
			in := make([]float32, n*3*side*side)
			out := make([]float32, n*per)
			shape := append([]int64{n}, s.Output().Dims[1:]...)
			b.Run(fmt.Sprintf("%s/batch=%d", d, n), func(b *testing.B) {
				for b.Loop() {
					if err := s.Run(in, []int64{n, 3, side, side}, out, shape); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)*float64(n)/b.Elapsed().Seconds(), "images/s")
			})
		}
		s.Close()
	}
}
