package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
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
	"github.com/vouchsafe/vouchsafe/internal/inputs"
	"github.com/vouchsafe/vouchsafe/internal/results"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
	"github.com/vouchsafe/vouchsafe/internal/shard"
	"github.com/vouchsafe/vouchsafe/models"
	"golang.org/x/term"
)

func init() {
	register(command{name: "hash", usage: "hash images: NeuralHash-compatible models or PDQ", run: runHash})
}

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
	finishEngine := addEngineFlags(fs, &o)
	shardFlags := shard.Register(fs)
	roots, status, ok := parseInterleaved(fs, args)
	if !ok {
		return status
	}
	sh, err := shardFlags.Spec(os.Getenv)
	if err != nil {
		return usageErr(env, "hash", err)
	}
	if err := finishEngine(); err != nil {
		return usageErr(env, "hash", err)
	}
	if len(roots) == 0 && *list == "" {
		fs.Usage()
		return exitUsage
	}
	// From here a signal winds the run down (exit status 2), even one that
	// comes while the model loads; a second one kills it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }()

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

	cfg := engine.Config{Workers: o.Workers, Budget: o.Budget}
	switch *algo {
	case "neuralhash":
		nh, err := engine.NewHasher(o)
		if err != nil {
			return usageErr(env, "hash", err)
		}
		defer nh.Close()
		if o.Device == "auto" && (*verbose || flagGiven(fs, "device")) {
			fmt.Fprintf(env.stderr, "vouchsafe hash: device auto: %s\n", nh.DeviceChoice())
		}
		cfg.Outputs, cfg.Hasher = engine.OutHash, nh
	case "pdq":
		if o.Model != "default" || o.Seed != "" || o.Exact || o.AutoOrient {
			return usageErr(env, "hash", fmt.Errorf("--algo pdq takes none of --model, --seed, --exact, --auto-orient"))
		}
		cfg.Outputs = engine.OutPDQ
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

	// Inputs: the list, then the roots; skip what is already hashed.
	var skipped atomic.Int64
	var walkErr error
	inputs := skipDone(cliInputs(ctx, env, *list, roots, &walkErr), func(in engine.Input) bool {
		if !sh.Has(in.Path) {
			return true // another shard's
		}
		if done[results.Canonical(in.Path)] {
			skipped.Add(1)
			return true
		}
		return false
	})

	bar := newProgress(env.stderr, *progress, func() (int64, bool) {
		if *list != "" {
			return 0, false
		}
		return countInputs(ctx, roots), true
	})
	start := time.Now()
	var failed int
	st, runErr := engine.Run(ctx, cfg, inputs, func(r engine.Record) error {
		rec := hashRecord(r, cfg.Outputs)
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
	// after a signal Run does not wait for it, so neither is walkErr read.
	if ctx.Err() != nil {
		if runErr == nil {
			runErr = ctx.Err()
		}
	} else if err := walkErr; err != nil && runErr == nil && !errors.Is(err, context.Canceled) {
		runErr = err
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

// hashRecord is the output record of one engine record.
func hashRecord(r engine.Record, out engine.Outputs) results.Record {
	rec := results.Record{Path: r.Path}
	switch {
	case r.Err != nil:
		rec.Error = r.Err.Error()
	case out&engine.OutPDQ != 0:
		q := r.Quality
		rec.Hash, rec.Width, rec.Height, rec.Quality = r.PDQ.String(), r.Width, r.Height, &q
	default:
		rec.Hash, rec.Width, rec.Height = r.Hash.String(), r.Width, r.Height
	}
	return rec
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

// cliInputs yields the paths of the --list file (when list is not empty;
// "-" is stdin), then the files and folders of roots. *errp receives the
// error that ended the listing early.
func cliInputs(ctx context.Context, env *cliEnv, list string, roots []string, errp *error) iter.Seq[engine.Input] {
	return func(yield func(engine.Input) bool) {
		if list != "" {
			r := env.stdin
			if list != "-" {
				f, err := safeio.OpenStream(list)
				if err != nil {
					*errp = err
					return
				}
				defer f.Close()
				// A FIFO may never be written to: closing it ends the read on a signal.
				stop := context.AfterFunc(ctx, func() { f.Close() })
				defer stop()
				r = f
			}
			stopped := false
			for in := range inputs.ReadList(r, errp) {
				if !yield(in) {
					stopped = true
					break
				}
			}
			if stopped || *errp != nil {
				return
			}
		}
		for in := range inputs.Walk(ctx, roots, errp) {
			if !yield(in) {
				return
			}
		}
	}
}

// skipDone drops the inputs for which skip reports true.
func skipDone(seq iter.Seq[engine.Input], skip func(engine.Input) bool) iter.Seq[engine.Input] {
	return func(yield func(engine.Input) bool) {
		for in := range seq {
			if skip(in) {
				continue
			}
			if !yield(in) {
				return
			}
		}
	}
}

// countInputs counts what Walk will yield, for the progress bar's ETA.
func countInputs(ctx context.Context, roots []string) int64 {
	var n int64
	for range inputs.Walk(ctx, roots, nil) {
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
	if o.Precision != "" && o.Precision != "fp32" {
		// fp16 moves hash bits: never resume one precision with another.
		h.Settings += " precision=" + o.Precision
	}
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
