// Command vsbench measures vouchsafe's hashing pipeline stage by stage on a
// folder of photos, on each device asked for, and optionally against the
// public NeuralHash reference pipeline (bench/reference.py).
//
//	vsbench [flags] PATH...
//
// Stages:
//
//	decode  read + decode + resize to 360×360 + normalise, on the decode workers only
//	infer   inference alone on synthetic tensors, one row per batch size swept
//	hash    the seed projection of 128-float embeddings to 96-bit hashes
//	e2e     engine.Hasher.Run over the files: everything together
//	voucher three ways through the files, interleaved: the hash alone
//	        (hashonly), the one-pass voucher command (voucher) and the
//	        two-step path hash → voucher --images (twostep)
//
// It prints a table and, with --json FILE, writes every figure, the machine and
// the configuration as JSON. See bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vouchsafe/vouchsafe/engine"
	"github.com/vouchsafe/vouchsafe/internal/cputime"
	"github.com/vouchsafe/vouchsafe/internal/imgproc"
	"github.com/vouchsafe/vouchsafe/internal/inputs"
	"github.com/vouchsafe/vouchsafe/internal/ort"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
)

func main() {
	// SIGTERM too: timeout(1) in bench/gpu-check.sh stops a run that way,
	// and the stages measured so far are still written.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is what a run measures; it is written to the JSON as given.
type config struct {
	Paths      []string `json:"paths"`
	Devices    []string `json:"devices"`
	Models     []string `json:"models"`
	Seed       string   `json:"seed,omitempty"`
	Stages     []string `json:"stages"`
	Batches    []int    `json:"infer_batches,omitempty"` // empty: per device default
	Streams    []int    `json:"infer_streams"`
	Precisions []string `json:"precisions"`
	Variants   []string `json:"cpu_variants,omitempty"`
	variants   []variant
	Batch      int           `json:"e2e_batch"` // 0: the engine's default for the device
	Workers    int           `json:"workers"`
	Threads    int           `json:"ort_threads"`
	GPU        int           `json:"gpu"`
	Exact      bool          `json:"exact"`
	AutoOrient bool          `json:"auto_orient"`
	MinTime    time.Duration `json:"-"`
	MinTimeS   float64       `json:"min_time_s"`
	Limit      int           `json:"limit,omitempty"`
	Rounds     int           `json:"rounds"`
	Reference  string        `json:"reference,omitempty"`
	RefScript  string        `json:"reference_script,omitempty"`
	RefProv    string        `json:"reference_provider,omitempty"`
	ORTLibrary string        `json:"-"`
}

// Report is the JSON document vsbench writes.
type Report struct {
	When        time.Time    `json:"when"`
	Machine     Machine      `json:"machine"`
	Config      config       `json:"config"`
	Photos      PhotoSet     `json:"photos"`
	Stages      []Stage      `json:"stages"`
	Reference   *refSummary  `json:"reference,omitempty"`
	Comparisons []Comparison `json:"comparisons,omitempty"`
	// Precisions compares each reduced precision's end-to-end hashes with
	// fp32's on the same photos, device and model: the hash bits it moves.
	Precisions []PrecisionDiff `json:"precision_diffs,omitempty"`
	// Ratios are the targets of issue 4, per device and model:
	// e2e/decode, e2e/min(decode, infer at the e2e batch), ours/reference.
	Ratios []Ratio `json:"ratios,omitempty"`
}

// Machine describes where the figures were taken.
type Machine struct {
	Host       string `json:"host"`
	OS         string `json:"os"`
	CPU        string `json:"cpu"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Go         string `json:"go"`
	ORT        string `json:"onnxruntime,omitempty"`
	ORTLibrary string `json:"onnxruntime_library,omitempty"`
	GPU        string `json:"gpu,omitempty"` // from nvidia-smi, when present
	Revision   string `json:"revision,omitempty"`
}

// PhotoSet describes the images measured.
type PhotoSet struct {
	Files       int     `json:"files"`
	Decoded     int     `json:"decoded"`
	MeanMP      float64 `json:"mean_megapixels"`
	MinMP       float64 `json:"min_megapixels"`
	MaxMP       float64 `json:"max_megapixels"`
	TotalMBytes float64 `json:"total_mbytes"`
}

type refSummary struct {
	Model     string   `json:"model"`
	ORT       string   `json:"onnxruntime,omitempty"`
	Providers []string `json:"providers,omitempty"`
	Python    string   `json:"python,omitempty"`
	Err       string   `json:"error,omitempty"`
}

// Ratio holds the issue-4 target ratios for one device and model.
type Ratio struct {
	Device        string  `json:"device"`
	Model         string  `json:"model"`
	Precision     string  `json:"precision,omitempty"`
	Variant       string  `json:"variant,omitempty"`
	E2EOverDecode float64 `json:"e2e_over_decode"`
	E2EOverSlower float64 `json:"e2e_over_min_decode_infer"`
	InferAtBatch  float64 `json:"infer_images_per_s_at_e2e_batch,omitempty"`
	// CPUOverStages is the end-to-end CPU time per image over the sum of the
	// stages' (decode, inference at the same batch, hash): what the pipeline
	// itself costs on the CPU (1 = nothing), steady whatever else runs.
	CPUOverStages float64 `json:"e2e_cpu_over_stages_cpu,omitempty"`
	OverReference float64 `json:"over_reference,omitempty"`
	// VoucherOverHash and VoucherOverTwoStep compare the one-pass voucher
	// command with the hash alone and with the two-step path (issue 12).
	VoucherOverHash    float64 `json:"voucher_over_hash,omitempty"`
	VoucherOverTwoStep float64 `json:"voucher_over_twostep,omitempty"`
}

var allStages = []string{"decode", "infer", "hash", "e2e", "voucher"}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseInts(what, s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s %q: want a positive integer", what, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// defaultBatches is the inference sweep for a device when --batches is not given.
func defaultBatches(device string) []int {
	if device == "cpu" {
		return []int{1, 4, 16, 32}
	}
	return []int{1, 16, 64, 128, 256, 512}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	var devices, models, stages, batches, streams, precisions, variants, jsonOut string
	fs.StringVar(&devices, "devices", "cpu", "devices to measure, comma-separated: cpu, cuda, coreml, auto")
	fs.StringVar(&models, "models", "default,bench", "models, comma-separated: default, bench, or ONNX files (with --seed)")
	fs.StringVar(&c.Seed, "seed", "", "seed file for a model file (and the reference)")
	fs.StringVar(&stages, "stages", strings.Join(allStages, ","), "stages to run: decode, infer, hash, e2e, voucher")
	fs.StringVar(&batches, "batches", "", "inference batch sizes to sweep (default 1,4,16,32 on cpu; 1,16,64,128,256,512 on a GPU)")
	fs.StringVar(&streams, "streams", "1", "inference calls in flight at once in the infer stage, comma-separated to sweep")
	fs.StringVar(&variants, "variants", "", "CPU session variants to measure, separated by ';', each '+'-joined settings: default, ort-defaults, spin=off|on|run, threads=N, inter=N, sessions=N, batch=N, opt=all|extended|basic|off, nomempattern, noarena, affinity (see bench/README.md)")
	fs.StringVar(&precisions, "precisions", "fp32", "model precisions to measure, comma-separated: fp32, fp16 (converted at load time; fp16 is compared with fp32's hashes)")
	fs.IntVar(&c.Batch, "batch", 0, "end-to-end batch size (0: the engine's default for the device)")
	fs.IntVar(&c.Workers, "workers", 0, "decode workers (0: one per CPU)")
	fs.IntVar(&c.Threads, "threads", 0, "ONNX Runtime CPU threads (0: one per core)")
	fs.IntVar(&c.GPU, "gpu", 0, "CUDA device ordinal")
	fs.BoolVar(&c.Exact, "exact", false, "decode at full size and resize as the reference does")
	fs.BoolVar(&c.AutoOrient, "auto-orient", false, "apply EXIF orientation (the reference does not)")
	fs.DurationVar(&c.MinTime, "min-time", 3*time.Second, "measure each stage for at least this long (repeating the photos)")
	fs.IntVar(&c.Limit, "limit", 0, "use at most this many photos (0: all)")
	fs.IntVar(&c.Rounds, "rounds", 1, "measure everything this many times and keep each stage's best round (for loaded machines)")
	fs.StringVar(&c.Reference, "reference", "", "Python interpreter to run the reference pipeline with (e.g. python3); empty: skip")
	fs.StringVar(&c.RefScript, "reference-script", "bench/reference.py", "the reference pipeline script")
	fs.StringVar(&c.RefProv, "reference-provider", "", "ONNX Runtime provider for the reference (default CPUExecutionProvider)")
	fs.StringVar(&c.ORTLibrary, "ort-lib", "", "ONNX Runtime library or folder (default: $VOUCHSAFE_ORT_LIB, $VOUCHSAFE_ORT_DIR, .cache/ort)")
	var combineMode bool
	var stepsFile, mdOut string
	fs.BoolVar(&combineMode, "combine", false, "combine mode: read the vsbench JSON reports given as arguments (and --steps) and write one JSON (--json) and one Markdown file (--markdown)")
	fs.StringVar(&stepsFile, "steps", "", "with --combine: the steps file (name, exit status, seconds, log path; tab-separated)")
	fs.StringVar(&mdOut, "markdown", "", "with --combine: write the Markdown summary here")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringVar(&jsonOut, "json", "", "write the JSON report to this file ('-': stdout, the table then goes to stderr)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vsbench [flags] PATH... (photo files or folders)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(err error) int {
		fmt.Fprintln(stderr, "vsbench:", err)
		return 2
	}
	if combineMode {
		if jsonOut == "" || jsonOut == "-" {
			return usage(errors.New("--combine needs --json FILE"))
		}
		if err := combine(stepsFile, fs.Args(), jsonOut, mdOut); err != nil {
			fmt.Fprintln(stderr, "vsbench:", err)
			return 1
		}
		return 0
	}
	c.Paths = fs.Args()
	c.Devices, c.Models, c.Stages = splitList(devices), splitList(models), splitList(stages)
	c.MinTimeS = c.MinTime.Seconds()
	var err error
	if c.Batches, err = parseInts("batch size", batches); err != nil {
		return usage(err)
	}
	if c.Streams, err = parseInts("streams", streams); err != nil {
		return usage(err)
	}
	if len(c.Streams) == 0 {
		return usage(errors.New("--streams must name at least one count"))
	}
	for _, spec := range strings.Split(variants, ";") {
		if spec = strings.TrimSpace(spec); spec == "" {
			continue
		}
		v, err := parseVariant(spec)
		if err != nil {
			return usage(err)
		}
		c.Variants, c.variants = append(c.Variants, spec), append(c.variants, v)
	}
	c.Precisions = splitList(precisions)
	for _, p := range c.Precisions {
		if p != engine.PrecisionFP32 && p != engine.PrecisionFP16 {
			return usage(fmt.Errorf("unknown precision %q (want fp32 or fp16)", p))
		}
	}
	for _, s := range c.Stages {
		if !slices.Contains(allStages, s) {
			return usage(fmt.Errorf("unknown stage %q (want %s)", s, strings.Join(allStages, ", ")))
		}
	}
	for _, d := range c.Devices {
		if _, err := ort.ParseDevice(d); err != nil {
			return usage(err)
		}
	}
	if len(c.Devices) == 0 || len(c.Models) == 0 || len(c.Precisions) == 0 {
		return usage(errors.New("--devices, --models and --precisions must name at least one"))
	}
	if c.Rounds < 1 || c.Workers < 0 || c.Batch < 0 || c.Limit < 0 {
		return usage(errors.New("--streams and --rounds must be ≥ 1; --workers, --batch and --limit ≥ 0"))
	}
	needPhotos := slices.Contains(c.Stages, "decode") || slices.Contains(c.Stages, "e2e") || slices.Contains(c.Stages, "voucher") || c.Reference != ""
	if needPhotos && len(c.Paths) == 0 {
		fs.Usage()
		return 2
	}
	if c.Reference != "" {
		if _, err := os.Stat(c.RefScript); err != nil {
			return usage(fmt.Errorf("--reference-script: %w", err))
		}
	}
	table, jsonW := stdout, io.Writer(nil)
	if jsonOut == "-" {
		table, jsonW = stderr, stdout
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return usage(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return usage(err)
		}
		defer pprof.StopCPUProfile()
	}
	rep, failed := measureRounds(ctx, c, stderr)
	if err := writeTable(table, rep.Stages); err != nil {
		return usage(err)
	}
	writeSummary(table, rep)
	if jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return usage(err)
		}
		b = append(b, '\n')
		if jsonW != nil {
			_, err = jsonW.Write(b)
		} else {
			err = os.WriteFile(jsonOut, b, 0o644)
		}
		if err != nil {
			return usage(err)
		}
	}
	if ctx.Err() != nil {
		return 2
	}
	if failed {
		return 1
	}
	return 0
}

// measureRounds runs measure c.Rounds times, the reference only in the last,
// and keeps each stage's fastest round: on a machine shared with other work
// the best round is the one least disturbed.
func measureRounds(ctx context.Context, c config, logw io.Writer) (Report, bool) {
	var best Report
	failedAny := false
	for r := range c.Rounds {
		rc := c
		if r < c.Rounds-1 {
			rc.Reference = ""
		}
		if c.Rounds > 1 {
			fmt.Fprintf(logw, "vsbench: round %d of %d\n", r+1, c.Rounds)
		}
		rep, failed := measure(ctx, rc, logw)
		failedAny = failedAny || failed
		if r == 0 {
			best = rep
			continue
		}
		best.Stages = bestStages(best.Stages, rep.Stages)
		best.Reference, best.Comparisons, best.Precisions = rep.Reference, rep.Comparisons, rep.Precisions
		if rep.Photos.Decoded > 0 {
			best.Photos = rep.Photos
		}
		if ctx.Err() != nil {
			break
		}
	}
	best.Config = c
	best.Ratios = ratios(best.Stages, c, nil)
	// The reference comparison's ratio uses the best end-to-end rate.
	for i := range best.Comparisons {
		cm := &best.Comparisons[i]
		for _, s := range best.Stages {
			if s.Stage == "e2e" && s.Err == "" && s.Device == cm.Device && s.Model == cm.Model && s.Precision == cm.Precision && (s.Variant == "" || s.Variant == firstVariant(c)) && cm.Ref > 0 {
				cm.Ours, cm.Ratio = s.Rate, s.Rate/cm.Ref
			}
		}
		for j := range best.Ratios {
			if r := &best.Ratios[j]; r.Device == cm.Device && r.Model == cm.Model && r.Precision == cm.Precision && (r.Variant == "" || r.Variant == firstVariant(c)) {
				r.OverReference = cm.Ratio
			}
		}
	}
	return best, failedAny
}

// bestStages keeps, for each stage of a, the faster of it and the same stage
// (same stage, device, model, batch, streams) in b.
func bestStages(a, b []Stage) []Stage {
	key := func(s Stage) string {
		return fmt.Sprintf("%s/%s/%s/%s/%s/%d/%d", s.Stage, s.Device, s.Model, s.Precision, s.Variant, s.Batch, s.Streams)
	}
	idx := map[string]int{}
	for i, s := range a {
		idx[key(s)] = i
	}
	for _, s := range b {
		i, ok := idx[key(s)]
		switch {
		case !ok:
			a = append(a, s)
		case a[i].Err != "" && s.Err == "", s.Err == "" && s.Rate > a[i].Rate:
			a[i] = s
		}
	}
	return a
}

// measure runs every stage asked for. failed reports that some measurement
// could not be taken (its Stage has Err set).
func measure(ctx context.Context, c config, logw io.Writer) (Report, bool) {
	logf := func(format string, a ...any) { fmt.Fprintf(logw, "vsbench: "+format+"\n", a...) }
	rep := Report{When: time.Now().UTC(), Config: c, Machine: machine()}
	failed := false
	workers := c.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	files, err := listPhotos(ctx, c.Paths, c.Limit)
	if err != nil {
		rep.Stages = append(rep.Stages, Stage{Stage: "list", Err: err.Error()})
		return rep, true
	}
	rep.Photos.Files = len(files)
	if len(files) == 0 && len(c.Paths) > 0 {
		rep.Stages = append(rep.Stages, Stage{Stage: "list", Err: fmt.Sprintf("no photos found in %s", strings.Join(c.Paths, ", "))})
		return rep, true
	}
	if slices.Contains(c.Stages, "decode") {
		logf("decode: %d photos, %d workers", len(files), workers)
		s, ps := decodeStage(ctx, files, workers, c)
		rep.Stages = append(rep.Stages, s)
		rep.Photos = ps
		failed = failed || s.Err != ""
	}
	if p, err := ort.Init(c.ORTLibrary); err != nil {
		rep.Stages = append(rep.Stages, Stage{Stage: "init", Err: err.Error()})
		return rep, true
	} else {
		rep.Machine.ORTLibrary, rep.Machine.ORT = p, ort.Version()
	}

	// hashes holds our end-to-end hashes for the reference comparison.
	hashes := map[runKey]map[string]engine.Hash{}
	e2eRate := map[runKey]float64{}
	for _, model := range c.Models {
		hashDone := false
		for _, dev := range c.Devices {
			for _, prec := range c.Precisions {
				for vi, v := range variantsFor(dev, c.variants) {
					if ctx.Err() != nil {
						return rep, true
					}
					o := engine.Options{
						Model: model, Seed: c.Seed, Device: dev, GPU: c.GPU, ORTLibrary: c.ORTLibrary,
						Threads: cmpInt(v.Threads, c.Threads), Batch: cmpInt(v.Batch, c.Batch), Workers: c.Workers, Exact: c.Exact, AutoOrient: c.AutoOrient,
						Precision: prec, CPU: v.Tuning, Sessions: v.Sessions,
						Logf: func(format string, a ...any) { logf(format, a...) },
					}
					h, err := engine.NewHasher(o)
					if err != nil {
						rep.Stages = append(rep.Stages, Stage{Stage: "open", Device: dev, Model: model, Precision: prec, Variant: v.Name, Err: err.Error()})
						failed = true
						continue
					}
					got := h.Device()
					tag := func(s Stage) Stage {
						s.Device, s.Model, s.Precision, s.Variant = got, h.Name(), h.Precision(), v.Name
						if got != dev {
							s.Note = strings.TrimPrefix(s.Note+"; asked for "+dev, "; ")
						}
						return s
					}
					if slices.Contains(c.Stages, "infer") {
						bs := c.Batches
						if len(bs) == 0 {
							bs = defaultBatches(got)
						}
						for _, b := range bs {
							for _, st := range c.Streams {
								if ctx.Err() != nil {
									break
								}
								logf("infer: %s %s%s on %s, batch %d, %d streams", h.Name(), prec, v.label(), got, b, st)
								// A pool of sessions needs a call in flight per session.
								s := inferStage(ctx, h, b, max(st, v.Sessions), c.MinTime)
								rep.Stages = append(rep.Stages, tag(s))
								failed = failed || s.Err != ""
							}
						}
					}
					if slices.Contains(c.Stages, "hash") && !hashDone {
						s := hashStage(h, c.MinTime/3)
						s.Model = h.Name()
						rep.Stages = append(rep.Stages, s)
						hashDone = true
					}
					if slices.Contains(c.Stages, "e2e") {
						logf("e2e: %s %s%s on %s, %d photos", h.Name(), prec, v.label(), got, len(files))
						s, hs := e2eStage(ctx, h, files, workers, c.MinTime)
						rep.Stages = append(rep.Stages, tag(s))
						failed = failed || s.Err != ""
						if vi == 0 { // the first variant's hashes stand for the run
							key := runKey{got, model, h.Precision()}
							hashes[key], e2eRate[key] = hs, s.Rate
						}
					}
					if slices.Contains(c.Stages, "voucher") {
						logf("voucher: %s %s%s on %s, %d photos: hash alone, one pass, two steps", h.Name(), prec, v.label(), got, len(files))
						for _, s := range voucherStages(ctx, h, files, workers, c.MinTime) {
							rep.Stages = append(rep.Stages, tag(s))
							failed = failed || s.Err != ""
						}
					}
					h.Close()
				}
			}
		}
	}
	rep.Ratios = ratios(rep.Stages, c, nil)
	rep.Precisions = precisionDiffs(hashes)

	if c.Reference != "" {
		// The reference runs once per model (it knows no devices); each
		// device's end-to-end run is compared to it.
		for _, model := range c.Models {
			if ctx.Err() != nil {
				return rep, true
			}
			logf("reference: %s with %s %s", model, c.Reference, c.RefScript)
			s, sum, cmp := referenceStage(ctx, c, model, files, hashes, e2eRate)
			rep.Stages = append(rep.Stages, s)
			if rep.Reference == nil || sum.Err == "" {
				rep.Reference = sum
			}
			rep.Comparisons = append(rep.Comparisons, cmp...)
			failed = failed || s.Err != ""
			for _, cm := range cmp {
				for i := range rep.Ratios {
					if r := &rep.Ratios[i]; r.Device == cm.Device && r.Model == cm.Model && r.Precision == cm.Precision && (r.Variant == "" || r.Variant == firstVariant(c)) {
						r.OverReference = cm.Ratio
					}
				}
			}
		}
	}
	return rep, failed
}

// listPhotos lists the image files below paths as the engine's walker does.
func listPhotos(ctx context.Context, paths []string, limit int) ([]string, error) {
	var walkErr error
	var files []string
	var bad []string
	for in := range inputs.Walk(ctx, paths, &walkErr) {
		if in.Err != nil {
			bad = append(bad, in.Err.Error())
			continue
		}
		if limit == 0 || len(files) < limit {
			files = append(files, in.Path)
		}
	}
	if walkErr != nil {
		return nil, walkErr
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("listing photos: %s", strings.Join(bad, "; "))
	}
	return files, nil
}

// decodeStage prepares every file (read, decode, resize, normalise) on
// workers goroutines, repeating the set until minTime has passed.
func decodeStage(ctx context.Context, files []string, workers int, c config) (Stage, PhotoSet) {
	ps := PhotoSet{Files: len(files)}
	// Warm the page cache so that the first pass is not a disk benchmark.
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			ps.TotalMBytes += float64(st.Size()) / 1e6
		}
		safeio.ReadFile(f, safeio.MaxImageFile)
	}
	// workers goroutines, each with its own preparer and input tensor as the
	// engine's decode workers have, take files from jobs; the loop below
	// feeds whole passes until minTime has passed. A file that fails is
	// noted, not a failure of the stage.
	type worker struct {
		p   *imgproc.Preparer
		dst []float32
	}
	ws := make([]worker, workers) // made before the clock starts
	for i := range ws {
		ws[i] = worker{
			p:   imgproc.NewPreparer(imgproc.Options{Exact: c.Exact, AutoOrient: c.AutoOrient}),
			dst: make([]float32, 3*engine.InputSize*engine.InputSize),
		}
	}
	type job struct {
		f     string
		first bool // the first pass: what each file is
	}
	jobs := make(chan job)
	var mu sync.Mutex // guards the results below
	var mp []float64
	var errs []string
	var lat []time.Duration
	c0, t0 := cputime.Process(), time.Now()
	var g errgroup.Group
	for _, w := range ws {
		g.Go(func() error {
			var local []time.Duration
			for j := range jobs {
				t := time.Now()
				data, err := safeio.ReadFile(j.f, safeio.MaxImageFile)
				var wd, ht int
				if err == nil {
					info, perr := w.p.Prepare(data, w.dst)
					wd, ht, err = info.Width, info.Height, perr
				}
				local = append(local, time.Since(t))
				if j.first {
					mu.Lock()
					if err != nil {
						errs = append(errs, fmt.Sprintf("%s: %v", j.f, err))
					} else {
						mp = append(mp, float64(wd)*float64(ht)/1e6)
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
			return nil
		})
	}
feed:
	for pass := 0; pass == 0 || len(files) > 0 && time.Since(t0) < c.MinTime; pass++ {
		for _, f := range files {
			select {
			case jobs <- job{f, pass == 0}:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	g.Wait()
	n := len(lat)
	wall := time.Since(t0)
	s := newStage("decode", n, wall, lat, "image")
	s.setCPU(c0)
	s.Workers = workers
	s.Note = "read + decode + resize + normalise"
	if c.Exact {
		s.Note += " (exact)"
	}
	if len(errs) > 0 {
		s.Failed = len(errs) * (n / max(1, len(files)))
		s.Note += "; failed: " + strings.Join(errs, "; ")
	}
	ps.Decoded = len(mp)
	if len(mp) > 0 {
		ps.MinMP, ps.MaxMP = slices.Min(mp), slices.Max(mp)
		sum := 0.0
		for _, x := range mp {
			sum += x
		}
		ps.MeanMP = sum / float64(len(mp))
	}
	return s, ps
}

// inferStage runs the model on synthetic input batches of b images from
// streams goroutines at once, for at least minTime and three calls per stream,
// after two warm-up calls (the first CUDA calls pick kernels).
func inferStage(ctx context.Context, h *engine.Hasher, b, streams int, minTime time.Duration) Stage {
	const imageFloats = 3 * engine.InputSize * engine.InputSize
	rng := rand.New(rand.NewPCG(1, uint64(b)))
	in := make([]float32, b*imageFloats)
	for i := range in {
		in[i] = rng.Float32()*2 - 1
	}
	s := Stage{Stage: "infer", Batch: b, Streams: streams}
	warm := make([]float32, b*engine.EmbeddingSize)
	for range 2 {
		if err := h.Embed(in, b, warm); err != nil {
			s.Err = err.Error()
			return s
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	// One goroutine per stream, each calling until the time is up; the
	// first failure stops the others.
	g, gctx := errgroup.WithContext(ctx)
	c0, t0 := cputime.Process(), time.Now()
	for range streams {
		g.Go(func() error {
			out := make([]float32, b*engine.EmbeddingSize)
			var local []time.Duration
			defer func() {
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			}()
			for i := 0; i < 3 || time.Since(t0) < minTime; i++ {
				if gctx.Err() != nil {
					return nil
				}
				t := time.Now()
				if err := h.Embed(in, b, out); err != nil {
					return err
				}
				local = append(local, time.Since(t))
			}
			return nil
		})
	}
	firstErr := g.Wait()
	wall := time.Since(t0)
	r := newStage("infer", len(lat)*b, wall, lat, "call")
	r.setCPU(c0)
	r.Batch, r.Streams = b, streams
	r.Note = "synthetic input"
	if firstErr != nil {
		r.Err = firstErr.Error()
	}
	return r
}

// hashStage projects random embeddings with the model's seed for about d:
// half the time calls are timed one by one (the latencies), half untimed
// (the rate, free of the timer's cost).
func hashStage(h *engine.Hasher, d time.Duration) Stage {
	rng := rand.New(rand.NewPCG(2, 3))
	const n = 1024
	emb := make([]float32, n*engine.EmbeddingSize)
	for i := range emb {
		emb[i] = float32(rng.NormFloat64())
	}
	var lat []time.Duration
	var sink byte
	t0 := time.Now()
	for time.Since(t0) < d/2 || len(lat) < n {
		for i := range n {
			t := time.Now()
			hh := h.HashEmbedding(emb[i*engine.EmbeddingSize : (i+1)*engine.EmbeddingSize])
			lat = append(lat, time.Since(t))
			sink ^= hh[0]
		}
	}
	images := 0
	c1, t1 := cputime.Process(), time.Now()
	for time.Since(t1) < d/2 || images < n {
		for i := range n {
			hh := h.HashEmbedding(emb[i*engine.EmbeddingSize : (i+1)*engine.EmbeddingSize])
			sink ^= hh[0]
		}
		images += n
	}
	wall := time.Since(t1)
	_ = sink
	s := newStage("hash", images, wall, lat, "image")
	s.setCPU(c1)
	s.Note = "seed projection, one goroutine"
	return s
}

// repeatFiles yields the files, in passes, until minTime has passed since t0
// (at least one pass), calling sent before each.
func repeatFiles(files []string, minTime time.Duration, t0 time.Time, sent func()) iter.Seq[engine.Input] {
	return func(yield func(engine.Input) bool) {
		for pass := 0; pass == 0 || time.Since(t0) < minTime; pass++ {
			for _, f := range files {
				sent()
				if !yield(engine.Input{Path: f}) {
					return
				}
			}
		}
	}
}

// e2eStage hashes the files with Hasher.Run, repeating them until minTime has
// passed, and returns our hashes of the first pass by path.
func e2eStage(ctx context.Context, h *engine.Hasher, files []string, workers int, minTime time.Duration) (Stage, map[string]engine.Hash) {
	var mu sync.Mutex
	var sent []time.Time
	var lat []time.Duration
	hashes := map[string]engine.Hash{}
	var failures []string
	c0, t0 := cputime.Process(), time.Now()
	in := repeatFiles(files, minTime, t0, func() {
		mu.Lock()
		sent = append(sent, time.Now())
		mu.Unlock()
	})
	n := 0
	st, err := h.Run(ctx, in, func(r engine.Record) error {
		mu.Lock()
		lat = append(lat, time.Since(sent[r.Seq]))
		mu.Unlock()
		if r.Seq < int64(len(files)) {
			if r.Err != nil {
				failures = append(failures, r.Err.Error())
			} else {
				hashes[r.Path] = r.Hash
			}
		}
		n++
		return nil
	})
	wall := time.Since(t0)
	s := newStage("e2e", n, wall, lat, "image-in-flight")
	s.setCPU(c0)
	s.Batch, s.Workers = h.DefaultBatch(), workers
	s.Failed = st.Failed
	if st.Batches > 0 {
		s.Note = fmt.Sprintf("%d batches, mean fill %.1f; decode busy %.0f%%, infer busy %.0f%% of wall",
			st.Batches, float64(st.Images)/float64(st.Batches),
			100*st.Decode.Seconds()/wall.Seconds()/float64(workers), 100*st.Infer.Seconds()/wall.Seconds())
	}
	if len(failures) > 0 {
		s.Note += "; failed: " + strings.Join(failures, "; ")
	}
	if err != nil {
		s.Err = err.Error()
	}
	return s, hashes
}

// referenceStage runs bench/reference.py on the files for one model.
func referenceStage(ctx context.Context, c config, model string, files []string, hashes map[runKey]map[string]engine.Hash, rates map[runKey]float64) (Stage, *refSummary, []Comparison) {
	s := Stage{Stage: "reference", Model: model, Device: "python", Batch: 1, Workers: 1}
	sum := &refSummary{Model: model}
	dir, err := os.MkdirTemp("", "vsbench-ref-")
	if err != nil {
		s.Err, sum.Err = err.Error(), err.Error()
		return s, sum, nil
	}
	defer os.RemoveAll(dir)
	onnxPath, seedPath, err := modelFiles(model, c.Seed, dir)
	if err != nil {
		s.Err, sum.Err = err.Error(), err.Error()
		return s, sum, nil
	}
	out, err := runReference(ctx, c.Reference, c.RefScript, c.RefProv, onnxPath, seedPath, dir, files)
	if err != nil {
		s.Err, sum.Err = err.Error(), err.Error()
		return s, sum, nil
	}
	s.Images, s.Failed, s.Seconds, s.Rate = out.Images, out.Failed, out.Seconds, out.Rate
	s.LatencyOf, s.Latency = "image", out.Latency
	s.Note = fmt.Sprintf("Pillow + onnxruntime %s %v, one image per call", out.ORT, out.Providers)
	sum.ORT, sum.Providers, sum.Python = out.ORT, out.Providers, out.Python
	var cmps []Comparison
	for _, k := range sortedKeys(hashes) {
		if k.Model != model {
			continue
		}
		cm := compare(model, k.Device, rates[k], out, hashes[k])
		cm.Precision = k.Precision
		cmps = append(cmps, cm)
	}
	return s, sum, cmps
}

// runKey names one end-to-end run: device, model and precision.
type runKey struct{ Device, Model, Precision string }

func sortedKeys[V any](m map[runKey]V) []runKey {
	var ks []runKey
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b runKey) int {
		return strings.Compare(a.Device+"\x00"+a.Model+"\x00"+a.Precision, b.Device+"\x00"+b.Model+"\x00"+b.Precision)
	})
	return ks
}

// PrecisionDiff is how far a reduced precision's hashes are from fp32's on
// the same photos, device and model (issue 15: a precision that moves hashes
// is opt-in and says so).
type PrecisionDiff struct {
	Device    string  `json:"device"`
	Model     string  `json:"model"`
	Precision string  `json:"precision"`
	Against   string  `json:"against"`
	Hamming   Hamming `json:"hamming"`
	// Identical is the fraction of images whose hash did not change.
	Identical float64 `json:"identical"`
}

// precisionDiffs compares every non-fp32 run's hashes with the fp32 run of the
// same device and model.
func precisionDiffs(hashes map[runKey]map[string]engine.Hash) []PrecisionDiff {
	var out []PrecisionDiff
	for _, k := range sortedKeys(hashes) {
		if k.Precision == engine.PrecisionFP32 {
			continue
		}
		base, ok := hashes[runKey{k.Device, k.Model, engine.PrecisionFP32}]
		if !ok {
			continue
		}
		d := PrecisionDiff{Device: k.Device, Model: k.Model, Precision: k.Precision, Against: engine.PrecisionFP32, Hamming: Hamming{Histogram: map[int]int{}}}
		sum, same := 0, 0
		for path, h := range hashes[k] {
			b, ok := base[path]
			if !ok {
				continue
			}
			n := engine.Distance(h, b)
			d.Hamming.Images++
			d.Hamming.Histogram[n]++
			d.Hamming.Max = max(d.Hamming.Max, n)
			sum += n
			if n == 0 {
				same++
			}
		}
		if d.Hamming.Images > 0 {
			d.Hamming.Mean = float64(sum) / float64(d.Hamming.Images)
			d.Identical = float64(same) / float64(d.Hamming.Images)
		}
		out = append(out, d)
	}
	return out
}

// ratios computes the issue-4 target ratios from the measured stages.
func ratios(stages []Stage, c config, e2eBatch map[string]int) []Ratio {
	var decode, decodeCPU float64
	hashCPU := map[string]float64{}
	for _, s := range stages {
		if s.Stage == "decode" && s.Err == "" {
			decode, decodeCPU = s.Rate, s.CPUPerImage
		}
		if s.Stage == "hash" && s.Err == "" {
			hashCPU[s.Model] = s.CPUPerImage
		}
	}
	var out []Ratio
	for _, s := range stages {
		if s.Stage == "hashonly" && !slices.ContainsFunc(stages, func(t Stage) bool {
			return t.Stage == "e2e" && t.Device == s.Device && t.Model == s.Model
		}) {
			// Only the voucher stages ran for this device and model.
			r := Ratio{Device: s.Device, Model: s.Model}
			r.VoucherOverHash, r.VoucherOverTwoStep = voucherRatios(stages, s.Device, s.Model)
			out = append(out, r)
			continue
		}
		if s.Stage != "e2e" || s.Err != "" {
			continue
		}
		r := Ratio{Device: s.Device, Model: s.Model, Precision: s.Precision, Variant: s.Variant}
		for _, t := range stages {
			if t.Stage == "infer" && t.Err == "" && t.Device == s.Device && t.Model == s.Model && t.Precision == s.Precision && t.Variant == s.Variant && t.Batch == s.Batch && t.Streams == 1 {
				r.InferAtBatch = t.Rate
				if sum := decodeCPU + t.CPUPerImage + hashCPU[s.Model]; decodeCPU > 0 && t.CPUPerImage > 0 && s.CPUPerImage > 0 {
					r.CPUOverStages = s.CPUPerImage / sum
				}
			}
		}
		r.VoucherOverHash, r.VoucherOverTwoStep = voucherRatios(stages, s.Device, s.Model)
		if decode > 0 {
			r.E2EOverDecode = s.Rate / decode
			slower := decode
			if r.InferAtBatch > 0 {
				slower = min(decode, r.InferAtBatch)
			}
			r.E2EOverSlower = s.Rate / slower
		}
		out = append(out, r)
	}
	return out
}

// voucherRatios returns the one-pass voucher rate over the hash-alone and
// the two-step rates measured beside it.
func voucherRatios(stages []Stage, device, model string) (overHash, overTwo float64) {
	rate := map[string]float64{}
	for _, s := range stages {
		if s.Device == device && s.Model == model && s.Err == "" {
			rate[s.Stage] = s.Rate
		}
	}
	if rate["voucher"] > 0 && rate["hashonly"] > 0 && rate["twostep"] > 0 {
		return rate["voucher"] / rate["hashonly"], rate["voucher"] / rate["twostep"]
	}
	return 0, 0
}

// writeSummary prints the ratios and the reference comparison under the table.
func writeSummary(w io.Writer, rep Report) {
	p := rep.Photos
	if p.Decoded > 0 {
		fmt.Fprintf(w, "\nphotos: %d files, %.1f MB, %.2f MP mean (%.2f–%.2f)\n", p.Files, p.TotalMBytes, p.MeanMP, p.MinMP, p.MaxMP)
	}
	for _, r := range rep.Ratios {
		line := fmt.Sprintf("%s %s%s:", r.Device, r.Model, precTag(r.Precision))
		if r.E2EOverDecode > 0 {
			line += fmt.Sprintf(" e2e/decode %.2f, e2e/min(decode, infer@batch) %.2f", r.E2EOverDecode, r.E2EOverSlower)
		}
		if r.CPUOverStages > 0 {
			line += fmt.Sprintf(", e2e CPU/(decode+infer+hash CPU) %.2f", r.CPUOverStages)
		}
		if r.OverReference > 0 {
			line += fmt.Sprintf(", ours/reference %.1f×", r.OverReference)
		}
		if r.VoucherOverHash > 0 {
			line += fmt.Sprintf(", voucher/hash %.2f, voucher/two-step %.2f", r.VoucherOverHash, r.VoucherOverTwoStep)
		}
		fmt.Fprintln(w, line)
	}
	for _, c := range rep.Comparisons {
		fmt.Fprintf(w, "reference vs %s %s%s: %d images, Hamming max %d, mean %.2f, histogram %v\n",
			c.Device, c.Model, precTag(c.Precision), c.Hamming.Images, c.Hamming.Max, c.Hamming.Mean, c.Hamming.Histogram)
	}
	for _, d := range rep.Precisions {
		fmt.Fprintf(w, "%s %s %s vs %s: %d images, hash bits moved mean %.2f, max %d, identical %.0f%% (%s is opt-in: it moves hashes)\n",
			d.Device, d.Model, d.Precision, d.Against, d.Hamming.Images, d.Hamming.Mean, d.Hamming.Max, 100*d.Identical, d.Precision)
	}
	m := rep.Machine
	fmt.Fprintf(w, "machine: %s, %d CPUs (GOMAXPROCS %d), %s", m.CPU, m.NumCPU, m.GOMAXPROCS, m.OS)
	if m.GPU != "" {
		fmt.Fprintf(w, ", GPU %s", m.GPU)
	}
	if m.ORT != "" {
		fmt.Fprintf(w, ", ONNX Runtime %s", m.ORT)
	}
	fmt.Fprintln(w)
}

func machine() Machine {
	m := Machine{
		OS:         runtime.GOOS + "/" + runtime.GOARCH,
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go:         runtime.Version(),
	}
	m.Host, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if m.CPU == "" {
		m.CPU = runtime.GOARCH
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				m.Revision = s.Value
			}
		}
	}
	if p, err := exec.LookPath("nvidia-smi"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if b, err := exec.CommandContext(ctx, p, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader").Output(); err == nil {
			m.GPU = strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "; ")), " ")
		}
	}
	return m
}

// precTag marks a reduced precision after a model name ("@fp16"); fp32 is
// left unmarked.
func precTag(p string) string {
	if p == "" || p == engine.PrecisionFP32 {
		return ""
	}
	return "@" + p
}
