package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/vouchsafe/vouchsafe/engine"
	"github.com/vouchsafe/vouchsafe/internal/eval"
	"github.com/vouchsafe/vouchsafe/internal/inputs"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
)

func init() {
	register(command{name: "eval", usage: "robustness and false-positive report for hash models and PDQ", run: runEval})
}

func runEval(env *cliEnv, args []string) int {
	fs := newFlagSet(env, "eval", "[flags] -o DIR PATH... (photos or folders of photos)")
	var (
		models listFlag
		seed   = fs.String("seed", "", "seed file for the model files (NeuralHash format); the embedded models keep theirs")
		withPD = fs.Bool("pdq", false, "also evaluate PDQ")
		outDir = fs.String("o", "", "write report.json, report.csv and report.html to this folder (required)")
		device = fs.String("device", "auto", "execution provider for the models: auto (CUDA or CoreML where present, else the CPU), cpu, cuda or coreml")
		ortLib = fs.String("ort-lib", "", "ONNX Runtime library or folder")
		side   = fs.Int("max-side", 0, "scale photos whose longer side exceeds `N` pixels down to N before making the variants (0: as they are)")
	)
	fs.Var(&models, "model", "model to evaluate: default, bench or an ONNX file (repeatable; default: default)")
	// Flags may follow the paths: parse again after each positional.
	var paths []string
	for {
		if st, ok := parseFlags(fs, args); !ok {
			return st
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if st, ok := missingFlags(env, "eval", fs, "o"); !ok {
		return st
	}
	if len(paths) == 0 {
		fs.Usage()
		return exitUsage
	}
	if len(models) == 0 && !*withPD {
		models = listFlag{"default"}
	}
	if *side < 0 {
		return usageErr(env, "eval", fmt.Errorf("--max-side %d", *side))
	}
	photos, err := readPhotos(paths)
	if err != nil {
		return usageErr(env, "eval", err)
	}
	if *side > 0 {
		for i := range photos {
			// A photo that does not decode is left for Run to skip and report.
			if p, err := eval.Shrink(photos[i], *side); err == nil {
				photos[i] = p
			}
		}
	}
	if len(photos) < 2 {
		return usageErr(env, "eval", fmt.Errorf("need at least 2 photos, found %d", len(photos)))
	}
	var hashers []eval.Hasher
	for _, m := range models {
		o := engine.Options{Model: m, Device: *device, ORTLibrary: *ortLib}
		if m != "default" && m != "bench" {
			o.Seed = *seed // the embedded models keep their own seeds
		}
		h, err := engine.NewHasher(o)
		if err != nil {
			return usageErr(env, "eval", err)
		}
		defer h.Close()
		hashers = append(hashers, eval.Engine{H: h})
	}
	if *withPD {
		hashers = append(hashers, eval.PDQ{})
	}
	rep, err := eval.Run(photos, hashers, eval.Transforms())
	if err != nil {
		return fail(env, "eval", err)
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return fail(env, "eval", err)
	}
	for name, write := range map[string]func(f *os.File) error{
		"report.json": func(f *os.File) error { return rep.WriteJSON(f) },
		"report.csv":  func(f *os.File) error { return rep.WriteCSV(f) },
		"report.html": func(f *os.File) error { return rep.WriteHTML(f) },
	} {
		f, err := os.Create(filepath.Join(*outDir, name))
		if err != nil {
			return fail(env, "eval", err)
		}
		err = write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fail(env, "eval", err)
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(env.stderr, "vouchsafe eval: skipped %s\n", s)
	}
	pairs := len(rep.Photos) * (len(rep.Photos) - 1) / 2
	fmt.Fprintf(env.stdout, "%d photos, %d negative pairs; recall at FPR 1e-3:\n%s", len(rep.Photos), pairs, rep.Headline())
	if pairs < 1000 {
		fmt.Fprintf(env.stdout, "note: %d negative pairs measure false-positive rates down to %.1e only; the thresholds are the largest distances below every negative pair (use more photos for 1e-3 and 1e-4)\n", pairs, 1/float64(max(1, pairs)))
	}
	return exitOK
}

// readPhotos reads the image files named, walking folders (files that a
// directory walk of the engine picks up), in sorted order.
func readPhotos(roots []string) ([]eval.Photo, error) {
	var paths []string
	for _, r := range roots {
		st, err := os.Stat(r)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			paths = append(paths, r)
			continue
		}
		err = filepath.WalkDir(r, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && inputs.IsImageName(p) {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(paths)
	var ps []eval.Photo
	for _, p := range paths {
		b, err := safeio.ReadFile(p, safeio.MaxImageFile)
		if err != nil {
			return nil, err
		}
		ps = append(ps, eval.Photo{Name: p, Data: b})
	}
	if len(ps) == 0 {
		return nil, errors.New("no image files found")
	}
	return ps, nil
}
