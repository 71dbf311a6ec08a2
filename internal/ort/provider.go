//go:build cgo

package ort

import (
	"fmt"
	"os"
	"runtime"

	onnx "github.com/yalue/onnxruntime_go"
)

func appendProvider(opts *onnx.SessionOptions, o Options) error {
	switch o.Device {
	case CPU, "":
		return nil
	case CUDA:
		if err := loadCUDALibraries(runtimeState.path); err != nil {
			return err
		}
		co, err := onnx.NewCUDAProviderOptions()
		if err != nil {
			return fmt.Errorf("cuda: %w", err)
		}
		defer co.Destroy()
		cudaOpts, err := cudaProviderOptions(os.Getenv(EnvCUDAOptions))
		if err != nil {
			return fmt.Errorf("cuda: %w", err)
		}
		cudaOpts["device_id"] = fmt.Sprint(o.GPU)
		if err := co.Update(cudaOpts); err != nil {
			return fmt.Errorf("cuda: %w", err)
		}
		if err := opts.AppendExecutionProviderCUDA(co); err != nil {
			return fmt.Errorf("cuda: %w", err)
		}
		return nil
	case CoreML:
		if runtime.GOOS != "darwin" {
			return fmt.Errorf("coreml: the CoreML execution provider exists only on macOS")
		}
		if err := opts.AppendExecutionProviderCoreMLV2(nil); err != nil {
			return fmt.Errorf("coreml: %w", err)
		}
		return nil
	}
	return fmt.Errorf("device %q cannot be opened directly; resolve auto first", o.Device)
}
