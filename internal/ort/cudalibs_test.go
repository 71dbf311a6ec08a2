package ort

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeTree creates empty files (and their folders) below root.
func fakeTree(t *testing.T, root string, files ...string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// fakeOpen simulates dlopen on a machine whose default loader path holds the
// sonames in onPath: bare names load only if listed there, full paths load if
// the file exists and is not listed in broken.
type fakeOpen struct {
	onPath []string
	broken map[string]bool
	opened []string
}

func (f *fakeOpen) open(p string) error {
	if !strings.Contains(p, "/") {
		if slices.Contains(f.onPath, p) {
			f.opened = append(f.opened, p)
			return nil
		}
		return errors.New(p + ": cannot open shared object file: No such file or directory")
	}
	if f.broken[p] {
		return errors.New(p + ": undefined symbol: cudnnFoo")
	}
	if _, err := os.Stat(p); err != nil {
		return err
	}
	f.opened = append(f.opened, p)
	return nil
}

func requiredSonames() []string {
	var out []string
	for _, l := range cudaLibs {
		if !l.optional {
			out = append(out, l.soname)
		}
	}
	return out
}

func TestCUDASearchDirsOrder(t *testing.T) {
	root := t.TempDir()
	venv := filepath.Join(root, "home/u/proj/.venv")
	ortDir := filepath.Join(root, "ort")
	for _, d := range []string{
		"ort",
		"usr/local/cuda/lib64",
		"usr/local/cuda-13.0/lib64",
		"usr/local/cuda-13.1/lib64",
		"usr/local/cuda-12.4/lib64", // not CUDA 13: not searched
		"usr/lib/x86_64-linux-gnu",
		"opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib",
		"opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib",
		"home/u/proj/.venv/lib/python3.11/site-packages/nvidia/cudnn/lib",
		"home/u/.local/lib/python3.12/site-packages/nvidia/cu13/lib",
		"toolkit/lib64",
		"extra",
	} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := cudaSearch{root: root, ortDir: ortDir, getenv: envOf(map[string]string{
		"CUDA_HOME":   filepath.Join(root, "toolkit"),
		"VIRTUAL_ENV": venv,
		"HOME":        filepath.Join(root, "home/u"),
		EnvCUDALibs:   filepath.Join(root, "extra") + string(os.PathListSeparator) + filepath.Join(root, "does-not-exist"),
	})}
	got := s.dirs()
	for i := range got {
		got[i] = strings.TrimPrefix(got[i], root+"/")
	}
	want := []string{
		"ort",
		"extra",
		"toolkit/lib64",
		"home/u/proj/.venv/lib/python3.11/site-packages/nvidia/cudnn/lib",
		"usr/local/cuda/lib64",
		"usr/local/cuda-13.1/lib64",
		"usr/local/cuda-13.0/lib64",
		"usr/lib/x86_64-linux-gnu",
		"home/u/.local/lib/python3.12/site-packages/nvidia/cu13/lib",
		"opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib",
		"opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib",
	}
	if !slices.Equal(got, want) {
		t.Errorf("dirs:\n got %q\nwant %q", got, want)
	}
}

// The layout of the GPU test machine in docs/gpu.md: driver in the
// distribution's folder, toolkit in /usr/local/cuda, cuDNN from a pip wheel.
func gpuMachineTree(t *testing.T, root string) {
	files := []string{"usr/lib/x86_64-linux-gnu/libcuda.so.1"}
	for _, l := range cudaLibs {
		switch l.group {
		case "cuda":
			files = append(files, "usr/local/cuda-13.0/lib64/"+l.soname)
		case "cudnn":
			files = append(files, "opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib/"+l.soname)
		}
	}
	fakeTree(t, root, files...)
}

func TestLoadCUDALibsFromFakeTree(t *testing.T) {
	root := t.TempDir()
	gpuMachineTree(t, root)
	f := &fakeOpen{}
	s := cudaSearch{root: root, getenv: envOf(nil)}
	if err := loadCUDALibs(cudaLibs, s, f.open); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range cudaLibs {
		switch l.group {
		case "driver":
			want = append(want, filepath.Join(root, "usr/lib/x86_64-linux-gnu", l.soname))
		case "cuda":
			want = append(want, filepath.Join(root, "usr/local/cuda-13.0/lib64", l.soname))
		case "cudnn":
			want = append(want, filepath.Join(root, "opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib", l.soname))
		}
	}
	if !slices.Equal(f.opened, want) {
		t.Errorf("opened:\n got %q\nwant %q", f.opened, want)
	}
}

func TestLoadCUDALibsPrefersLoaderPath(t *testing.T) {
	root := t.TempDir()
	gpuMachineTree(t, root)
	f := &fakeOpen{onPath: requiredSonames()}
	s := cudaSearch{root: root, getenv: envOf(nil)}
	if err := loadCUDALibs(cudaLibs, s, f.open); err != nil {
		t.Fatal(err)
	}
	// Required ones come from the loader path; the optional ones it lacks are
	// then found in the tree.
	for _, p := range f.opened {
		if strings.Contains(p, "/") && !strings.Contains(p, "runtime_compiled") && !strings.Contains(p, "cudnn_adv") {
			t.Errorf("opened %s by path although the loader path has it", p)
		}
	}
}

func TestLoadCUDALibsMissingNamesLibrary(t *testing.T) {
	root := t.TempDir()
	gpuMachineTree(t, root)
	cudnn := filepath.Join(root, "opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib")
	if err := os.Remove(filepath.Join(cudnn, "libcudnn.so.9")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "usr/local/cuda-13.0/lib64/libcufft.so.12")); err != nil {
		t.Fatal(err)
	}
	f := &fakeOpen{}
	err := loadCUDALibs(cudaLibs, cudaSearch{root: root, getenv: envOf(nil)}, f.open)
	if !errors.Is(err, ErrCUDALibrary) {
		t.Fatalf("err = %v, want ErrCUDALibrary", err)
	}
	msg := err.Error()
	for _, s := range []string{"libcudnn.so.9", "libcufft.so.12", "libcufft.so.12", cudnn, filepath.Join(root, "usr/local/cuda-13.0/lib64")} {
		if !strings.Contains(msg, s) {
			t.Errorf("error does not mention %q: %v", s, err)
		}
	}
	for _, s := range []string{"libcudart.so.13", "libcuda.so.1", "runtime_compiled"} {
		if strings.Contains(msg, s+",") || strings.Contains(msg, s+" not found") {
			t.Errorf("error names %s, which was found: %v", s, err)
		}
	}
}

func TestLoadCUDALibsNoDriver(t *testing.T) {
	root := t.TempDir() // nothing at all: a machine without CUDA
	err := loadCUDALibs(cudaLibs, cudaSearch{root: root, getenv: envOf(nil)}, (&fakeOpen{}).open)
	if !errors.Is(err, ErrCUDALibrary) {
		t.Fatalf("err = %v, want ErrCUDALibrary", err)
	}
	for _, s := range requiredSonames() {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not name %s: %v", s, err)
		}
	}
	if !strings.Contains(err.Error(), "NVIDIA driver") || !strings.Contains(err.Error(), "none of them exists here") {
		t.Errorf("error does not explain the driver or the search: %v", err)
	}
}

func TestLoadCUDALibsOptional(t *testing.T) {
	root := t.TempDir()
	gpuMachineTree(t, root)
	cudnn := filepath.Join(root, "opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib")
	if err := os.Remove(filepath.Join(cudnn, "libcudnn_adv.so.9")); err != nil {
		t.Fatal(err)
	}
	f := &fakeOpen{broken: map[string]bool{filepath.Join(cudnn, "libcudnn_engines_runtime_compiled.so.9"): true}}
	if err := loadCUDALibs(cudaLibs, cudaSearch{root: root, getenv: envOf(nil)}, f.open); err != nil {
		t.Fatalf("a missing or unloadable optional library failed the load: %v", err)
	}
}

func TestLoadCUDALibsBroken(t *testing.T) {
	root := t.TempDir()
	gpuMachineTree(t, root)
	bad := filepath.Join(root, "opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib/libcudnn_ops.so.9")
	f := &fakeOpen{broken: map[string]bool{bad: true}}
	err := loadCUDALibs(cudaLibs, cudaSearch{root: root, getenv: envOf(nil)}, f.open)
	if !errors.Is(err, ErrCUDALibrary) || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "undefined symbol") {
		t.Fatalf("err = %v, want one naming %s and the loader's message", err, bad)
	}
}

// Once libcudnn.so.9 is found, its sub-libraries come from the same folder
// even where an earlier folder holds another copy.
func TestLoadCUDALibsKeepsGroupTogether(t *testing.T) {
	root := t.TempDir()
	gpuMachineTree(t, root)
	first := filepath.Join(root, "usr/local/cuda/lib64") // searched before the venv
	fakeTree(t, root, "usr/local/cuda/lib64/libcudnn_ops.so.9", "usr/local/cuda/lib64/libcudnn_cnn.so.9")
	f := &fakeOpen{}
	if err := loadCUDALibs(cudaLibs, cudaSearch{root: root, getenv: envOf(nil)}, f.open); err != nil {
		t.Fatal(err)
	}
	for _, p := range f.opened {
		if strings.HasPrefix(p, first) {
			t.Errorf("opened %s, away from the folder of libcudnn.so.9", p)
		}
	}
}

func TestCheckProviderFiles(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libonnxruntime.so.1")
	fakeTree(t, dir, "libonnxruntime.so.1")
	err := checkProviderFiles(lib)
	if err == nil || !strings.Contains(err.Error(), cudaProviderFile) || !strings.Contains(err.Error(), sharedProviderFile) || !strings.Contains(err.Error(), "make ort-cuda") {
		t.Fatalf("err = %v, want one naming both provider files and make ort-cuda", err)
	}
	fakeTree(t, dir, cudaProviderFile)
	if err := checkProviderFiles(lib); err == nil || strings.Contains(err.Error(), cudaProviderFile+",") || !strings.Contains(err.Error(), sharedProviderFile) {
		t.Fatalf("err = %v, want one naming only %s", err, sharedProviderFile)
	}
	fakeTree(t, dir, sharedProviderFile)
	if err := checkProviderFiles(lib); err != nil {
		t.Fatal(err)
	}
}
