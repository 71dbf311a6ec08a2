package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// EnvCUDALibs names extra folders (separated by the OS path list separator)
// searched first for the CUDA and cuDNN libraries.
const EnvCUDALibs = "VOUCHSAFE_CUDA_LIBS"

// The CUDA execution provider's own files, which must sit beside the ONNX
// Runtime library (ONNX Runtime loads them from its own folder).
const (
	cudaProviderFile   = "libonnxruntime_providers_cuda.so"
	sharedProviderFile = "libonnxruntime_providers_shared.so"
)

// cudaLib is one shared library the CUDA execution provider needs.
type cudaLib struct {
	soname string
	group  string // libraries of a group are looked for first where the group's earlier ones were found
	// optional libraries are preloaded when found and loadable; cuDNN opens
	// them itself only for some operators.
	optional bool
}

// cudaLibs lists what the CUDA 13 build of ONNX Runtime's CUDA provider
// (1.29.0) needs, in an order where every library's dependencies come before
// it, so that preloading each by full path resolves the next one's DT_NEEDED
// entries by soname.
var cudaLibs = []cudaLib{
	{soname: "libcuda.so.1", group: "driver"},
	{soname: "libcudart.so.13", group: "cuda"},
	{soname: "libcublasLt.so.13", group: "cuda"},
	{soname: "libcublas.so.13", group: "cuda"},
	{soname: "libcurand.so.10", group: "cuda"},
	{soname: "libcufft.so.12", group: "cuda"},
	{soname: "libcudnn.so.9", group: "cudnn"},
	{soname: "libcudnn_graph.so.9", group: "cudnn"},
	{soname: "libcudnn_engines_precompiled.so.9", group: "cudnn"},
	{soname: "libcudnn_heuristic.so.9", group: "cudnn"},
	{soname: "libcudnn_ops.so.9", group: "cudnn"},
	{soname: "libcudnn_cnn.so.9", group: "cudnn"},
	{soname: "libcudnn_engines_runtime_compiled.so.9", group: "cudnn", optional: true}, // wants NVRTC
	{soname: "libcudnn_adv.so.9", group: "cudnn", optional: true},                      // RNNs and attention
}

// cudaSearch finds the CUDA libraries on disk. It only looks at files: loading
// them is loadCUDALibs' job, with an open function supplied by the caller.
type cudaSearch struct {
	// root is prefixed to the fixed system folders: "/" normally, a test's
	// fake tree in tests. Folders named by environment variables are used as given.
	root   string
	getenv func(string) string
	// ortDir is the ONNX Runtime library's folder, searched first: a user may
	// put the CUDA libraries beside it.
	ortDir string
}

// dirs returns the folders to search, most specific first, without duplicates,
// keeping only those that exist.
func (s cudaSearch) dirs() []string {
	var out []string
	seen := map[string]bool{}
	add := func(d string) {
		if d == "" {
			return
		}
		d = filepath.Clean(d)
		if seen[d] {
			return
		}
		seen[d] = true
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			out = append(out, d)
		}
	}
	// glob adds the matches of a pattern, newest version first (reverse
	// lexical order puts cuda-13.1 before cuda-13.0, python3.12 before 3.11).
	glob := func(pattern string) {
		m, _ := filepath.Glob(pattern)
		sort.Sort(sort.Reverse(sort.StringSlice(m)))
		for _, d := range m {
			add(d)
		}
	}
	sys := func(p string) string { return filepath.Join(s.root, p) }
	// wheels adds the NVIDIA pip wheels' library folders of a Python prefix
	// (a virtualenv, a conda environment, an interpreter's install folder).
	// CUDA 13 wheels share nvidia/cu13/lib; cuDNN keeps nvidia/cudnn/lib;
	// CUDA 12 wheels had one folder per component.
	wheels := func(prefix string) {
		if prefix == "" {
			return
		}
		for _, sp := range []string{"site-packages", "dist-packages"} {
			glob(filepath.Join(prefix, "lib", "python3*", sp, "nvidia", "*", "lib"))
			glob(filepath.Join(prefix, "lib64", "python3*", sp, "nvidia", "*", "lib"))
		}
	}

	add(s.ortDir)
	for _, d := range filepath.SplitList(s.getenv(EnvCUDALibs)) {
		add(d)
	}
	for _, v := range []string{"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT", "CUDNN_HOME", "CUDNN_PATH"} {
		if p := s.getenv(v); p != "" {
			add(filepath.Join(p, "lib64"))
			add(filepath.Join(p, "lib"))
			add(filepath.Join(p, "targets", "x86_64-linux", "lib"))
		}
	}
	wheels(s.getenv("VIRTUAL_ENV"))
	if p := s.getenv("CONDA_PREFIX"); p != "" {
		add(filepath.Join(p, "lib"))
		wheels(p)
	}
	add(sys("/usr/local/cuda/lib64"))
	add(sys("/usr/local/cuda/targets/x86_64-linux/lib"))
	glob(sys("/usr/local/cuda-13*/lib64"))
	glob(sys("/usr/local/cuda-13*/targets/x86_64-linux/lib"))
	// The driver library, and distribution packages of CUDA and cuDNN.
	add(sys("/usr/lib/x86_64-linux-gnu"))
	add(sys("/usr/lib64"))
	add(sys("/usr/local/nvidia/lib64")) // NVIDIA container runtime
	add(sys("/usr/lib/wsl/lib"))        // WSL 2
	// Python installs and virtualenvs that commonly carry the NVIDIA wheels.
	if home := s.getenv("HOME"); home != "" {
		for _, v := range []string{".venv", "venv", ".local"} {
			wheels(filepath.Join(home, v))
		}
		for _, m := range globSorted(filepath.Join(home, ".pyenv", "versions", "*")) {
			wheels(m)
		}
		for _, m := range globSorted(filepath.Join(home, "miniconda3"), filepath.Join(home, "anaconda3"), filepath.Join(home, "miniforge3")) {
			wheels(m)
		}
	}
	for _, m := range globSorted(sys("/opt/*/.venv"), sys("/opt/*/venv"), sys("/opt/venv"), sys("/opt/conda"), sys("/opt/conda/envs/*")) {
		wheels(m)
	}
	wheels(sys("/usr/local"))
	wheels(sys("/usr"))
	// Debian's python3-* packages.
	glob(sys("/usr/lib/python3/dist-packages/nvidia/*/lib"))
	return out
}

// globSorted returns the matches of the patterns, each pattern's newest first.
func globSorted(patterns ...string) []string {
	var out []string
	for _, p := range patterns {
		m, _ := filepath.Glob(p)
		sort.Sort(sort.Reverse(sort.StringSlice(m)))
		out = append(out, m...)
	}
	return out
}

// find returns the first regular file (or link to one) named name in dirs.
func find(name string, dirs []string) (string, bool) {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
	}
	return "", false
}

// checkProviderFiles checks that the CUDA provider's libraries sit beside the
// ONNX Runtime library at ortPath.
func checkProviderFiles(ortPath string) error {
	dir := filepath.Dir(ortPath)
	var missing []string
	for _, f := range []string{cudaProviderFile, sharedProviderFile} {
		p := filepath.Join(dir, f)
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("cuda: the CUDA execution provider is missing (%s); run `make ort-cuda` (it puts ONNX Runtime's CUDA 13 provider beside %s)", strings.Join(missing, ", "), ortPath)
	}
	return nil
}

// ErrCUDALibrary is returned (wrapped) when a library the CUDA provider needs
// cannot be found or loaded.
var ErrCUDALibrary = errors.New("a CUDA library the CUDA execution provider needs cannot be loaded")

// loadCUDALibs makes every library in libs loadable by soname. For each, it
// first asks open for the bare soname (the default loader path:
// LD_LIBRARY_PATH, RUNPATH, ld.so.cache); failing that it opens the first file
// of that name in the search folders by full path. open must load with
// RTLD_NOW|RTLD_GLOBAL in production. The error names every missing library
// and every folder searched.
func loadCUDALibs(libs []cudaLib, s cudaSearch, open func(string) error) error {
	var dirs []string // computed on first need: a machine with the libraries on the loader path never walks the file system
	groupDirs := map[string][]string{}
	var missing, broken []string
	for _, l := range libs {
		if open(l.soname) == nil {
			continue
		}
		if dirs == nil {
			dirs = s.dirs()
		}
		order := append(slices.Clone(groupDirs[l.group]), dirs...)
		p, ok := find(l.soname, order)
		if !ok {
			if !l.optional {
				missing = append(missing, l.soname)
			}
			continue
		}
		if err := open(p); err != nil {
			if !l.optional {
				broken = append(broken, fmt.Sprintf("%s (%v)", p, err))
			}
			continue
		}
		if d := filepath.Dir(p); !slices.Contains(groupDirs[l.group], d) {
			groupDirs[l.group] = append(groupDirs[l.group], d)
		}
	}
	if len(missing) == 0 && len(broken) == 0 {
		return nil
	}
	var msg []string
	if len(missing) > 0 {
		where := "none of them exists here"
		if len(dirs) > 0 {
			where = "of those, these exist and were searched: " + strings.Join(dirs, ", ")
		}
		msg = append(msg, fmt.Sprintf("%s not found on the loader path (LD_LIBRARY_PATH, ld.so.cache) nor in the usual folders ($%s, $CUDA_HOME, $CUDA_PATH, /usr/local/cuda*/lib64, /usr/lib/x86_64-linux-gnu, the NVIDIA pip wheels' site-packages/nvidia/*/lib of $VIRTUAL_ENV, $CONDA_PREFIX, ~/.local, ~/.venv, /opt/*/.venv and the system Pythons; %s)", strings.Join(missing, ", "), EnvCUDALibs, where))
	}
	if len(broken) > 0 {
		msg = append(msg, "found but failed to load: "+strings.Join(broken, "; "))
	}
	hint := "install the CUDA 13 toolkit libraries and cuDNN 9 (or the NVIDIA pip wheels nvidia-cublas, nvidia-cuda-runtime, nvidia-curand, nvidia-cufft, nvidia-cudnn-cu13), or name their folders in $" + EnvCUDALibs
	if slices.Contains(missing, "libcuda.so.1") {
		hint = "libcuda.so.1 comes with the NVIDIA driver: this machine has no NVIDIA driver installed, or its library is not on the loader path; " + hint
	}
	return fmt.Errorf("cuda: %w: %s; %s", ErrCUDALibrary, strings.Join(msg, "; "), hint)
}
