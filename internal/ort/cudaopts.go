package ort

import (
	"fmt"
	"strings"
)

// EnvCUDAOptions names extra CUDA execution provider options, as
// "key=value,key=value" (ONNX Runtime's names, e.g.
// cudnn_conv_algo_search=HEURISTIC), applied after vouchsafe's own defaults.
// It exists so that a GPU machine can be tuned and measured without a rebuild.
const EnvCUDAOptions = "VOUCHSAFE_CUDA_OPTIONS"

// defaultCUDAOptions are the CUDA provider settings vouchsafe uses unless
// EnvCUDAOptions overrides them. HEURISTIC convolution algorithm search:
// ONNX Runtime's default (EXHAUSTIVE) benchmarks every algorithm for every
// new input shape, and a streaming run meets new shapes (the last, partial
// batch of every flush); on an H200 it cost end-to-end throughput 21-27 %
// with the bench model (bench/results/gpu-2026-12-04.md).
var defaultCUDAOptions = map[string]string{"cudnn_conv_algo_search": "HEURISTIC"}

// cudaProviderOptions returns the defaults with the options of spec on top.
func cudaProviderOptions(spec string) (map[string]string, error) {
	out := make(map[string]string, len(defaultCUDAOptions)+2)
	for k, v := range defaultCUDAOptions {
		out[k] = v
	}
	for _, kv := range strings.Split(spec, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%s: %q is not key=value", EnvCUDAOptions, kv)
		}
		if k == "device_id" {
			return nil, fmt.Errorf("%s: device_id is set by --gpu", EnvCUDAOptions)
		}
		out[k] = v
	}
	return out, nil
}
