package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vouchsafe/vouchsafe/engine"
	"github.com/vouchsafe/vouchsafe/internal/inputs"
	"github.com/vouchsafe/vouchsafe/internal/results"
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
		list     = fs.String("list", "", "read input paths from this file, one per line ('-' for stdin)")
		algo     = fs.String("algo", "neuralhash", "neuralhash (a NeuralHash-compatible model) or pdq")
		progress = fs.String("progress", "auto", "progress bar on stderr: auto (when it is a terminal), always or never")
		verbose  = fs.Bool("v", false, "report the device, model and timing on stderr")
	)
	finishEngine := addEngineFlags(fs, &o)
	roots, status, ok := parseInterleaved(fs, args)
	if !ok {
		return status
	}
	if err := finishEngine(); err != nil {
		return usageErr(env, "hash", err)
	}
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

	cfg := engine.Config{Workers: o.Workers}
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

	// Output, and what an earlier run already did.
	var w io.Writer = env.stdout
	var done map[string]bool
	header := true
	if *out != "" {
		var file *os.File
		if *resume {
			var d *results.Done
			file, d, err = results.OpenForResume(*out, f)
			if err == nil {
				done = d.Hashed
				header = d.Valid == 0
				if *verbose {
					fmt.Fprintf(env.stderr, "vouchsafe hash: resuming %s: %d records, %d hashed\n", *out, d.Records, len(d.Hashed))
				}
			}
		} else {
			file, err = os.Create(*out)
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

	// Inputs: the list, then the roots; skip what is already hashed.
	var skipped atomic.Int64
	var walkErr error
	inputs := skipDone(cliInputs(ctx, env, *list, roots, &walkErr), func(in engine.Input) bool {
		if done[in.Path] {
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
	if err := walkErr; err != nil && runErr == nil && !errors.Is(err, context.Canceled) {
		runErr = err
	}
	if *verbose {
		el := time.Since(start)
		fmt.Fprintf(env.stderr, "vouchsafe hash: %d images (%d failed, %d skipped) in %.2fs: %.1f img/s; %d batches; decode %.1f ms/img/core, inference %.2f ms/img (GOMAXPROCS %d)\n",
			st.Images, st.Failed, skipped.Load(), el.Seconds(), float64(st.Images)/el.Seconds(), st.Batches,
			msPer(st.Decode, st.Images), msPer(st.Infer, st.Images), runtime.GOMAXPROCS(0))
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
				f, err := os.Open(list)
				if err != nil {
					*errp = err
					return
				}
				defer f.Close()
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
