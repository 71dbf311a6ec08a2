//go:build cgo

package ort

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// cudaLoaded records that the CUDA libraries were preloaded in this process:
// like the ONNX Runtime environment, loaded libraries are process-wide.
var cudaLoaded struct {
	sync.Mutex
	done bool
}

// loadCUDALibraries checks that the CUDA execution provider sits beside the
// ONNX Runtime library at ortPath, then makes sure every CUDA 13 and cuDNN 9
// library the provider needs can be loaded: from the default loader path if
// there, else from where they are commonly installed (see cudaSearch.dirs),
// preloaded by full path with RTLD_GLOBAL so that the provider's own
// dependencies resolve to them. The error names each missing library and
// the folders searched.
func loadCUDALibraries(ortPath string) error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("cuda: the CUDA execution provider is supported on Linux only (this is %s/%s)", runtime.GOOS, runtime.GOARCH)
	}
	if err := checkProviderFiles(ortPath); err != nil {
		return err
	}
	cudaLoaded.Lock()
	defer cudaLoaded.Unlock()
	if cudaLoaded.done {
		return nil
	}
	s := cudaSearch{root: "/", getenv: os.Getenv, ortDir: filepath.Dir(ortPath)}
	if err := loadCUDALibs(cudaLibs, s, dlopenGlobal); err != nil {
		return err
	}
	cudaLoaded.done = true
	return nil
}
