package main

import (
	"encoding/json"
	"fmt"

	"github.com/vouchsafe/vouchsafe/internal/threshold"
)

func init() {
	register(command{name: "threshold", usage: "choose the match threshold for a false-flag target (and the reverse)", run: runThreshold})
}

type thresholdReport struct {
	FPR             float64 `json:"fpr"`
	Library         float64 `json:"library"`
	Cluster         int     `json:"cluster"`
	Target          float64 `json:"target"`
	RequiredMatches int     `json:"required_matches"`
	Threshold       int     `json:"threshold"`
	Probability     float64 `json:"false_flag_probability"`
	MaxLibrary      float64 `json:"max_library,omitempty"`
}

func runThreshold(env *cliEnv, args []string) int {
	fs := newFlagSet(env, "threshold", "--fpr 1e-6 --library 1000000 --target 1e-12 | --fpr 1e-6 --required 31 --target 1e-12")
	fpr := fs.Float64("fpr", 1e-6, "per-image false-positive rate f")
	library := fs.Float64("library", 0, "library size N (an upper bound): print the smallest threshold")
	required := fs.Int("required", 0, "required matches T = t+1: print the largest library size meeting the target (the reverse)")
	target := fs.Float64("target", 1e-12, "target probability that an account is falsely flagged")
	cluster := fs.Int("cluster", 1, "near-duplicate cluster size k (matches one false-positive scene can produce)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, st, ok := parseInterleaved(fs, args)
	if !ok {
		return st
	}
	if len(pos) != 0 || (*library == 0) == (*required == 0) {
		fmt.Fprintln(env.stderr, "vouchsafe threshold: give exactly one of --library and --required")
		fs.Usage()
		return 2
	}
	rep := thresholdReport{FPR: *fpr, Library: *library, Cluster: *cluster, Target: *target}
	if *library != 0 {
		q := threshold.Query{FPR: *fpr, Library: *library, Cluster: *cluster}
		T, err := threshold.MinThreshold(q, *target)
		if err != nil {
			return fail(env, "threshold", err)
		}
		p, err := threshold.FalseFlagProbability(q, T)
		if err != nil {
			return fail(env, "threshold", err)
		}
		rep.RequiredMatches, rep.Threshold, rep.Probability = T, T-1, p
	} else {
		n, err := threshold.MaxLibrary(threshold.LibraryQuery{FPR: *fpr, Cluster: *cluster, Required: *required, Target: *target})
		if err != nil {
			return fail(env, "threshold", err)
		}
		p, _ := threshold.FalseFlagProbability(threshold.Query{FPR: *fpr, Library: n, Cluster: *cluster}, *required)
		rep.RequiredMatches, rep.Threshold, rep.MaxLibrary, rep.Library, rep.Probability = *required, *required-1, n, n, p
	}
	if *asJSON {
		if err := json.NewEncoder(env.stdout).Encode(rep); err != nil {
			return fail(env, "threshold", err)
		}
		return 0
	}
	if *library != 0 {
		fmt.Fprintf(env.stdout, "required matches T = %d (threshold t = %d: the server decrypts with more than %d matches)\n", rep.RequiredMatches, rep.Threshold, rep.Threshold)
		fmt.Fprintf(env.stdout, "false-flag probability at N = %g, f = %g, k = %d: %.3g (target %g)\n", *library, *fpr, *cluster, rep.Probability, *target)
	} else {
		fmt.Fprintf(env.stdout, "largest library N = %.0f for T = %d required matches (t = %d), f = %g, k = %d: false-flag probability %.3g (target %g)\n",
			rep.MaxLibrary, *required, *required-1, *fpr, *cluster, rep.Probability, *target)
	}
	return 0
}
