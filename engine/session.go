package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vouchsafe/vouchsafe/internal/defaultmodel"
	"github.com/vouchsafe/vouchsafe/internal/onnxgen"
	"github.com/vouchsafe/vouchsafe/internal/ort"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
)

// session runs a model: ONNX Runtime, or pure Go for the default model in a
// build without cgo.
type session interface {
	Input() ort.TensorInfo
	Output() ort.TensorInfo
	Device() ort.Device
	Run(input []float32, inShape []int64, output []float32, outShape []int64) error
	Close() error
}

// DeviceGo is the device of the pure-Go default model, used where ONNX Runtime
// cannot be (a build without cgo).
const DeviceGo ort.Device = "go"

// goDefault evaluates the default model with its Go reference implementation
// (internal/defaultmodel), which a test keeps equal to the ONNX graph.
type goDefault struct{}

func (goDefault) Input() ort.TensorInfo {
	return ort.TensorInfo{Name: "image", Dims: []int64{-1, 3, InputSize, InputSize}}
}
func (goDefault) Output() ort.TensorInfo {
	return ort.TensorInfo{Name: "embedding", Dims: []int64{-1, EmbeddingSize}}
}
func (goDefault) Device() ort.Device { return DeviceGo }
func (goDefault) Close() error       { return nil }

func (goDefault) Run(input []float32, inShape []int64, output []float32, outShape []int64) error {
	n := int(inShape[0])
	for i := range n {
		e := defaultmodel.Embedding(input[i*imageFloats : (i+1)*imageFloats])
		if len(e) != EmbeddingSize {
			return fmt.Errorf("pure-Go default model: bad input")
		}
		copy(output[i*EmbeddingSize:], e)
	}
	return nil
}

// The precisions a model can run in (Options.Precision).
const (
	// PrecisionFP32 runs the model as it is: float32 throughout.
	PrecisionFP32 = "fp32"
	// PrecisionFP16 converts the model's weights and computation to float16 at
	// load time (inputs and outputs stay float32), for GPUs with fast
	// half-precision arithmetic. It moves some hash bits against fp32, so it
	// is opt-in; bench/README.md gives the figures.
	PrecisionFP16 = "fp16"
)

// fp16CacheVersion names the converter's output format in cache file names, so
// that a change to the conversion does not reuse older files.
const fp16CacheVersion = "fp16v1"

// modelAtPrecision returns the model bytes to load for opts.Precision: the
// model itself for fp32, or its float16 conversion, read from the cache
// (opts.CacheDir, by default the user cache directory) where an earlier run
// left it and written there otherwise. A cache that cannot be used only costs
// the conversion time.
func modelAtPrecision(model []byte, name string, opts Options) ([]byte, error) {
	switch opts.Precision {
	case "", PrecisionFP32:
		return model, nil
	case PrecisionFP16:
	default:
		return nil, fmt.Errorf("unknown precision %q (want fp32 or fp16)", opts.Precision)
	}
	if !ort.Available {
		return nil, fmt.Errorf("model %s: precision fp16 needs ONNX Runtime, which this build (no cgo) lacks", name)
	}
	sum := sha256.Sum256(model)
	file := hex.EncodeToString(sum[:]) + "-" + fp16CacheVersion + ".onnx"
	dir := opts.CacheDir
	if dir == "" {
		if d, err := os.UserCacheDir(); err == nil {
			dir = filepath.Join(d, "vouchsafe", "models")
		}
	}
	if dir != "" {
		// The float16 model is about half the float32 one plus a few nodes:
		// a larger file is not ours.
		if b, err := safeio.ReadFile(filepath.Join(dir, file), int64(len(model))+1<<16); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	half, err := onnxgen.ConvertFloat16(model)
	if err != nil {
		return nil, fmt.Errorf("model %s: converting to fp16: %w", name, err)
	}
	if dir != "" {
		err := os.MkdirAll(dir, 0o755)
		if err == nil {
			err = safeio.WriteFile(filepath.Join(dir, file), half, 0o644)
		}
		if err != nil && opts.Logf != nil {
			opts.Logf("model %s: fp16 conversion not cached: %v", name, err)
		}
	}
	return half, nil
}

// Precision is the precision the model runs in: fp32 or fp16.
func (h *Hasher) Precision() string {
	if h.opts.Precision == "" {
		return PrecisionFP32
	}
	return h.opts.Precision
}

// openCPU opens the model on the CPU: opts.Sessions sessions sharing the
// threads, by default (Sessions and Threads 0) one single-threaded session per
// CPU. On 2 cores that ran the bench model 1.7× as fast as one session with
// both threads, ONNX Runtime's default (bench/README.md): a single image's
// layers are too small to split across threads without waiting.
func openCPU(model []byte, name string, o ort.Options, opts Options) (session, error) {
	n := opts.Sessions
	if n == 0 && opts.Threads == 0 {
		n = runtime.NumCPU()
	}
	if n <= 1 {
		return ort.Open(model, name, o)
	}
	p, _, err := openPool(model, name, o, n)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// pool is several CPU sessions of one model, each with a share of the
// threads; a call takes a free session, so as many calls as sessions run at
// once, each single-threaded where there are as many sessions as cores.
type pool struct {
	all  []*ort.Session
	free chan *ort.Session
}

// openPool opens n sessions with o.Threads/n intra-op threads each (at least
// one; o.Threads 0 means one per CPU in all).
func openPool(model []byte, name string, o ort.Options, n int) (*pool, string, error) {
	total := o.Threads
	if total == 0 {
		total = runtime.NumCPU()
	}
	o.Threads = max(1, total/n)
	p := &pool{free: make(chan *ort.Session, n)}
	for range n {
		s, err := ort.Open(model, name, o)
		if err != nil {
			p.Close()
			return nil, "", err
		}
		p.all = append(p.all, s)
		p.free <- s
	}
	return p, "", nil
}

func (p *pool) Input() ort.TensorInfo  { return p.all[0].Input() }
func (p *pool) Output() ort.TensorInfo { return p.all[0].Output() }
func (p *pool) Device() ort.Device     { return p.all[0].Device() }

func (p *pool) Run(input []float32, inShape []int64, output []float32, outShape []int64) error {
	s := <-p.free
	defer func() { p.free <- s }()
	return s.Run(input, inShape, output, outShape)
}

func (p *pool) Close() error {
	var first error
	for _, s := range p.all {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
