package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vouchsafe/vouchsafe/engine"
	"github.com/vouchsafe/vouchsafe/internal/imgproc"
	"github.com/vouchsafe/vouchsafe/internal/results"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
	"github.com/vouchsafe/vouchsafe/models"
	"golang.org/x/term"
)

func init() {
	register(command{name: "hash", usage: "hash images: NeuralHash-compatible models or PDQ", run: runHash})
}

// Exit statuses of hash.
const (
	exitOK       = 0
	exitSomeFail = 1 // the run finished; one or more inputs have an error record
	exitUsage    = 2 // bad flags, or the run could not start or had to stop
)

func runHash(env *cliEnv, args []string) int {
	fs := newFlagSet(env, "hash", "[flags] PATH... (files or folders; --list FILE or --list - for paths one per line)")
	var (
		o        engine.Options
		out      = fs.String("o", "", "write records to this file instead of stdout")
		format   = fs.String("format", "jsonl", "output format: jsonl or csv")
		resume   = fs.Bool("resume", false, "skip inputs already hashed in the -o file and append to it")
		force    = fs.Bool("force", false, "overwrite an existing -o file")
		memMiB   = fs.Int64("decode-mem", imgproc.DefaultBudget>>20, "MiB of memory that images being decoded may use at once, over all workers; a larger image is refused")
		list     = fs.String("list", "", "read input paths from this file, one per line ('-' for stdin)")
		algo     = fs.String("algo", "neuralhash", "neuralhash (a NeuralHash-compatible model) or pdq")
		progress = fs.String("progress", "auto", "progress bar on stderr: auto (when it is a terminal), always or never")
		verbose  = fs.Bool("v", false, "report the device, model and timing on stderr")
	)
	fs.StringVar(&o.Model, "model", "default", "model: default, bench, or an ONNX file with NeuralHash's interface")
	fs.StringVar(&o.Seed, "seed", "", "seed file (96×128 hyperplanes, NeuralHash format); required with a model file")
	fs.StringVar(&o.Device, "device", "cpu", "execution provider: auto, cpu, cuda or coreml")
	fs.IntVar(&o.GPU, "gpu", 0, "CUDA device ordinal")
	fs.StringVar(&o.ORTLibrary, "ort-lib", "", "ONNX Runtime library or folder (default: $VOUCHSAFE_ORT_LIB, $VOUCHSAFE_ORT_DIR, .cache/ort)")
	fs.IntVar(&o.Threads, "threads", 0, "ONNX Runtime CPU threads (0: one per core)")
	fs.IntVar(&o.Batch, "batch", 0, "images per inference call (0: 16 on CPU, 128 on GPU)")
	fs.IntVar(&o.Workers, "workers", 0, "decode workers (0: one per core)")
	fs.IntVar(&o.Streams, "streams", 0, "inference calls in flight (0: 1 on the CPU, 2 on a GPU)")
	exact := fs.Bool("exact", false, "decode JPEGs at full size and resize exactly as the reference (the default with a model file)")
	fast := fs.Bool("fast", false, "let the JPEG decoder downscale in the DCT domain first (the default with the embedded models)")
	fs.BoolVar(&o.AutoOrient, "auto-orient", false, "apply the EXIF orientation first (the reference does not)")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	if *exact && *fast {
		return usageErr(env, "hash", errors.New("--exact and --fast are opposites"))
	}
	// A user's NeuralHash model gets the reference's pixels unless asked
	// otherwise, so its hashes are the reference's; the embedded models are
	// ours, and the fast path moves them by at most a bit or two.
	_, builtin := models.Lookup(o.Model)
	o.Exact = *exact || (!builtin && !*fast)
	roots := fs.Args()
	if len(roots) == 0 && *list == "" {
		fs.Usage()
		return exitUsage
	}
	f, err := results.ParseFormat(*format)
	if err != nil {
		return usageErr(env, "hash", err)
	}
	if *resume && *out == "" {
		return usageErr(env, "hash", errors.New("--resume needs -o FILE"))
	}
	if *verbose {
		o.Logf = func(format string, a ...any) { fmt.Fprintf(env.stderr, "vouchsafe hash: "+format+"\n", a...) }
	}

	if *memMiB <= 0 {
		return usageErr(env, "hash", errors.New("--decode-mem must be positive"))
	}
	o.Budget = imgproc.NewBudget(*memMiB << 20)
	// Let the garbage collector return a large image's memory before the
	// heap doubles: the budget bounds live memory, this bounds the rest.
	debug.SetMemoryLimit(o.Budget.Total() + 384<<20)

	var h imageHasher
	switch *algo {
	case "neuralhash":
		nh, err := engine.NewHasher(o)
		if err != nil {
			return usageErr(env, "hash", err)
		}
		defer nh.Close()
		if o.Device == "auto" {
			fmt.Fprintf(env.stderr, "vouchsafe hash: device auto: %s\n", nh.DeviceChoice())
		}
		h = neuralHasher{nh}
	case "pdq":
		h, err = newPDQHasher(o)
		if err != nil {
			return usageErr(env, "hash", err)
		}
	default:
		return usageErr(env, "hash", fmt.Errorf("unknown --algo %q (want neuralhash or pdq)", *algo))
	}

	hdr, err := outputHeader(*algo, o)
	if err != nil {
		return usageErr(env, "hash", err)
	}
	// Output, and what an earlier run already did.
	var w io.Writer = env.stdout
	var done map[string]bool
	header := &hdr
	if *out != "" {
		var file *os.File
		if *resume {
			var d *results.Done
			file, d, err = results.OpenForResume(*out, f, hdr)
			if err == nil {
				done = d.Hashed
				if d.Header != nil {
					header = nil
				}
				if *verbose {
					fmt.Fprintf(env.stderr, "vouchsafe hash: resuming %s: %d records, %d hashed\n", *out, d.Records, len(d.Hashed))
				}
			}
		} else {
			file, err = results.Create(*out, *force)
		}
		if err != nil {
			return usageErr(env, "hash", err)
		}
		defer file.Close()
		w = file
	}
	rw, err := results.NewWriter(w, f, header)
	if err != nil {
		return usageErr(env, "hash", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal the run winds down; a second one kills it.
	go func() { <-ctx.Done(); stop() }()

	// Inputs: walk in the background; skip what is already hashed.
	inputs := make(chan engine.Input, 256)
	var skipped atomic.Int64
	walkErr := make(chan error, 1)
	go func() {
		defer close(inputs)
		raw := make(chan engine.Input, 256)
		go func() {
			defer close(raw)
			var err error
			if *list != "" {
				err = readListFile(ctx, env, *list, raw)
			}
			if err == nil {
				err = engine.Walk(ctx, roots, raw)
			}
			walkErr <- err
		}()
		for in := range raw {
			if done != nil && done[results.Canonical(in.Path)] {
				skipped.Add(1)
				continue
			}
			select {
			case inputs <- in:
			case <-ctx.Done():
			}
		}
	}()

	bar := newProgress(env.stderr, *progress, func() (int64, bool) {
		if *list != "" {
			return 0, false
		}
		return countInputs(ctx, roots), true
	})
	start := time.Now()
	var failed int
	st, runErr := h.Run(ctx, inputs, func(rec results.Record) error {
		if rec.Error != "" {
			failed++
		}
		bar.add(1)
		return rw.Write(rec)
	})
	bar.finish()
	if err := rw.Flush(); err != nil && runErr == nil {
		runErr = err
	}
	// The lister may be blocked reading stdin, which nothing can interrupt:
	// on a signal it is not waited for.
	select {
	case err := <-walkErr:
		if err != nil && runErr == nil && !errors.Is(err, context.Canceled) {
			runErr = err
		}
	case <-ctx.Done():
		if runErr == nil {
			runErr = ctx.Err()
		}
	}
	if *verbose {
		el := time.Since(start)
		fmt.Fprintf(env.stderr, "vouchsafe hash: %d images (%d failed, %d skipped) in %.2fs: %.1f img/s; %d batches; decode %.1f ms/img/core, inference %.2f ms/img (GOMAXPROCS %d)\n",
			st.Images, st.Failed, skipped.Load(), el.Seconds(), float64(st.Images)/el.Seconds(), st.Batches,
			msPer(st.Decode, st.Images), msPer(st.Infer, st.Images), runtime.GOMAXPROCS(0))
		if kb := peakRSSKiB(); kb > 0 {
			fmt.Fprintf(env.stderr, "vouchsafe hash: peak RSS %d MiB\n", kb>>10)
		}
	}
	if runErr != nil {
		return usageErr(env, "hash", runErr)
	}
	if failed > 0 {
		fmt.Fprintf(env.stderr, "vouchsafe hash: %d of %d inputs failed (see their error records)\n", failed, st.Images)
		return exitSomeFail
	}
	return exitOK
}

// imageHasher is what hash runs: the NeuralHash engine or PDQ. emit is
// called from one goroutine, in input order.
type imageHasher interface {
	Run(ctx context.Context, inputs <-chan engine.Input, emit func(results.Record) error) (engine.RunStats, error)
}

type neuralHasher struct{ h *engine.Hasher }

func (n neuralHasher) Run(ctx context.Context, inputs <-chan engine.Input, emit func(results.Record) error) (engine.RunStats, error) {
	return n.h.Run(ctx, inputs, func(r engine.Record) error {
		rec := results.Record{Path: r.Path}
		if r.Err != nil {
			rec.Error = r.Err.Error()
		} else {
			rec.Hash, rec.Width, rec.Height = r.Hash.String(), r.Width, r.Height
		}
		return emit(rec)
	})
}

func msPer(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Microseconds()) / 1000 / float64(n)
}

func usageErr(env *cliEnv, cmd string, err error) int {
	fmt.Fprintf(env.stderr, "vouchsafe %s: %v\n", cmd, err)
	return exitUsage
}

func readListFile(ctx context.Context, env *cliEnv, name string, out chan<- engine.Input) error {
	if name == "-" {
		return engine.ReadList(ctx, env.stdin, out)
	}
	f, err := safeio.OpenStream(name)
	if err != nil {
		return err
	}
	defer f.Close()
	// A FIFO may never be written to: closing it ends the read on a signal.
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	return engine.ReadList(ctx, f, out)
}

// countInputs counts what Walk will send, for the progress bar's ETA.
func countInputs(ctx context.Context, roots []string) int64 {
	ch := make(chan engine.Input, 1024)
	go func() { engine.Walk(ctx, roots, ch); close(ch) }()
	var n int64
	for range ch {
		n++
	}
	return n
}

// progress draws "done/total rate ETA" on a terminal, at most 10 times a second.
type progress struct {
	w       io.Writer
	on      bool
	start   time.Time
	last    time.Time
	done    int64
	total   atomic.Int64
	counted atomic.Bool
}

func newProgress(w io.Writer, mode string, count func() (int64, bool)) *progress {
	p := &progress{w: w, start: time.Now()}
	switch mode {
	case "always":
		p.on = true
	case "never":
	default:
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			p.on = true
		}
	}
	if p.on {
		go func() {
			if n, ok := count(); ok {
				p.total.Store(n)
				p.counted.Store(true)
			}
		}()
	}
	return p
}

func (p *progress) add(n int64) {
	p.done += n
	if !p.on || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.draw()
}

func (p *progress) draw() {
	el := time.Since(p.start).Seconds()
	rate := float64(p.done) / max(el, 1e-9)
	if p.counted.Load() && p.total.Load() > 0 {
		total := p.total.Load()
		eta := time.Duration(float64(max(total-p.done, 0)) / max(rate, 1e-9) * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(p.w, "\r%d/%d  %.1f img/s  ETA %s   ", p.done, total, rate, eta)
		return
	}
	fmt.Fprintf(p.w, "\r%d  %.1f img/s   ", p.done, rate)
}

func (p *progress) finish() {
	if p.on {
		p.draw()
		fmt.Fprintln(p.w)
	}
}

// outputHeader names what the run's hashes depend on: the algorithm, the
// model and seed (by digest) and the decoding settings, so that --resume
// never mixes two kinds of hashes in one file.
func outputHeader(algo string, o engine.Options) (results.Header, error) {
	if algo == "pdq" {
		return results.Header{Algo: "pdq"}, nil
	}
	h := results.Header{Algo: algo, Model: o.Model, Settings: fmt.Sprintf("exact=%t auto_orient=%t", o.Exact, o.AutoOrient)}
	var model, seed []byte
	if m, ok := models.Lookup(o.Model); ok {
		model, seed = m.ONNX, m.Seed
	} else {
		h.Model = "file"
		var err error
		if model, err = safeio.ReadFile(o.Model, maxModelFile); err != nil {
			return h, err
		}
	}
	if o.Seed != "" {
		var err error
		if seed, err = safeio.ReadFile(o.Seed, maxModelFile); err != nil {
			return h, err
		}
	}
	sum := sha256.New()
	for _, b := range [][]byte{model, seed} {
		d := sha256.Sum256(b)
		sum.Write(d[:])
	}
	h.ModelDigest = "sha256:" + hex.EncodeToString(sum.Sum(nil))
	return h, nil
}

// maxModelFile caps a model or seed file read for its digest.
const maxModelFile = 1 << 30

// peakRSSKiB returns the process's peak resident set size (VmHWM, Linux),
// or 0 where it is not known. Unlike getrusage's, it starts at exec, not
// at the parent's size when it forked.
func peakRSSKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
