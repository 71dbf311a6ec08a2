package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/vouchsafe/vouchsafe/engine"
	"github.com/vouchsafe/vouchsafe/models"
)

// addEngineFlags defines the flags that configure the hashing engine (hash
// and the one-pass voucher share them). The returned function completes o
// once the flags are parsed.
func addEngineFlags(fs *flag.FlagSet, o *engine.Options) (finish func() error) {
	fs.StringVar(&o.Model, "model", "default", "model: default, bench, or an ONNX file with NeuralHash's interface")
	fs.StringVar(&o.Seed, "seed", "", "seed file (96×128 hyperplanes, NeuralHash format); required with a model file")
	// auto: a GPU machine needs no flag to use its GPU.
	fs.StringVar(&o.Device, "device", "auto", "execution provider: auto (CUDA or CoreML where present, else the CPU), cpu, cuda or coreml")
	fs.IntVar(&o.GPU, "gpu", 0, "CUDA device ordinal")
	fs.StringVar(&o.ORTLibrary, "ort-lib", "", "ONNX Runtime library or folder (default: $VOUCHSAFE_ORT_LIB, $VOUCHSAFE_ORT_DIR, .cache/ort)")
	fs.IntVar(&o.Threads, "threads", 0, "ONNX Runtime CPU threads (0: one per core)")
	fs.IntVar(&o.Batch, "batch", 0, "images per inference call (0: 1 on the CPU, one call per session; 128 on a GPU)")
	fs.IntVar(&o.Workers, "workers", 0, "decode workers (0: one per core)")
	fs.IntVar(&o.Streams, "streams", 0, "inference calls in flight (0: 1 on the CPU, 2 on a GPU)")
	exact := fs.Bool("exact", false, "decode JPEGs at full size and resize exactly as the reference (the default with a model file)")
	fast := fs.Bool("fast", false, "let the JPEG decoder downscale in the DCT domain first (the default with the embedded models)")
	fs.BoolVar(&o.AutoOrient, "auto-orient", false, "apply the EXIF orientation first (the reference does not)")
	fs.StringVar(&o.Precision, "precision", "fp32", "fp32, or fp16: the model converted to float16 once (cached), for GPUs; fp16 moves some hash bits, so hashes differ from fp32's")
	return func() error {
		if *exact && *fast {
			return errors.New("--exact and --fast are opposites")
		}
		// A user's NeuralHash model gets the reference's pixels unless asked
		// otherwise, so its hashes are the reference's; the embedded models are
		// ours, and the fast path moves them by at most a bit or two.
		_, builtin := models.Lookup(o.Model)
		o.Exact = *exact || (!builtin && !*fast)
		return nil
	}
}

// flagGiven reports whether the flag name was given on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// signalContext is cancelled by SIGINT or SIGTERM, so a run stops cleanly.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
