package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/safeio"
)

// Check is the one document bench/gpu-check.sh leaves: every step it ran (with
// its exit status and the end of its log where it failed) and every vsbench
// report, by name.
type Check struct {
	When  time.Time          `json:"when"`
	Steps []Step             `json:"steps"`
	Runs  map[string]*Report `json:"runs"`
	// Errors lists the reports that could not be read.
	Errors []string `json:"errors,omitempty"`
}

// Step is one step of the check.
type Step struct {
	Name    string  `json:"name"`
	Status  int     `json:"exit_status"` // 0 ok; 124 timed out; 125 skipped (out of time)
	Seconds float64 `json:"seconds"`
	LogTail string  `json:"log_tail,omitempty"`
}

// maxReport bounds a report file read by combine.
const maxReport = 64 << 20

// combine reads a steps file (name, status, seconds, log path: tab-separated
// lines) and vsbench JSON reports, and writes them as one Check JSON and one
// Markdown summary.
func combine(stepsFile string, reports []string, jsonOut, mdOut string) error {
	ch := Check{When: time.Now().UTC(), Runs: map[string]*Report{}}
	if stepsFile != "" {
		steps, err := readSteps(stepsFile)
		if err != nil {
			return err
		}
		ch.Steps = steps
	}
	for _, p := range reports {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		b, err := safeio.ReadFile(p, maxReport)
		if err != nil {
			ch.Errors = append(ch.Errors, err.Error())
			continue
		}
		var r Report
		if err := json.Unmarshal(b, &r); err != nil {
			ch.Errors = append(ch.Errors, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		ch.Runs[name] = &r
	}
	b, err := json.MarshalIndent(ch, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonOut, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if mdOut == "" {
		return nil
	}
	f, err := os.Create(mdOut)
	if err != nil {
		return err
	}
	writeMarkdown(f, &ch, reports)
	return f.Close()
}

func readSteps(path string) ([]Step, error) {
	b, err := safeio.ReadFile(path, 1<<20)
	if err != nil {
		return nil, err
	}
	var steps []Step
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for line := 1; sc.Scan(); line++ {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 3 {
			return nil, fmt.Errorf("%s:%d: want name, status, seconds[, log] separated by tabs", path, line)
		}
		st, err1 := strconv.Atoi(f[1])
		sec, err2 := strconv.ParseFloat(f[2], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s:%d: bad status or seconds %q %q", path, line, f[1], f[2])
		}
		s := Step{Name: f[0], Status: st, Seconds: sec}
		if st != 0 && len(f) > 3 && f[3] != "" {
			s.LogTail = tail(f[3], 4000)
		}
		steps = append(steps, s)
	}
	return steps, nil
}

// tail returns the last n bytes of a file, or why it could not be read.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(io.LimitReader(f, n))
	return string(b)
}

// writeMarkdown prints the check as Markdown: the steps, then per run the
// machine, the stages, the ratios, the reference and precision comparisons.
func writeMarkdown(w io.Writer, ch *Check, order []string) {
	fmt.Fprintf(w, "# vouchsafe GPU check, %s\n\n", ch.When.Format(time.RFC3339))
	if len(ch.Steps) > 0 {
		fmt.Fprintln(w, "| step | status | seconds |")
		fmt.Fprintln(w, "|---|---|---|")
		for _, s := range ch.Steps {
			status := "ok"
			switch s.Status {
			case 0:
			case 124:
				status = "**timed out**"
			case 125:
				status = "**skipped** (out of time)"
			default:
				status = fmt.Sprintf("**failed** (exit %d)", s.Status)
			}
			fmt.Fprintf(w, "| %s | %s | %.1f |\n", s.Name, status, s.Seconds)
		}
		fmt.Fprintln(w)
	}
	for _, e := range ch.Errors {
		fmt.Fprintf(w, "- report not read: %s\n", oneLine(e))
	}
	for _, p := range order {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		r := ch.Runs[name]
		if r == nil {
			continue
		}
		m := r.Machine
		inputs := strings.Join(r.Config.Paths, " ")
		if inputs == "" {
			inputs = "synthetic input"
		}
		fmt.Fprintf(w, "## %s\n\n%s: %s, %d CPUs", name, inputs, m.CPU, m.NumCPU)
		if m.GPU != "" {
			fmt.Fprintf(w, ", GPU %s", m.GPU)
		}
		if m.ORT != "" {
			fmt.Fprintf(w, ", ONNX Runtime %s", m.ORT)
		}
		if p := r.Photos; p.Decoded > 0 {
			fmt.Fprintf(w, "; %d photos, %.2f MP mean", p.Decoded, p.MeanMP)
		}
		fmt.Fprintf(w, "; min time %.3g s\n\n", r.Config.MinTimeS)
		fmt.Fprintln(w, "| stage | device | model | batch | streams | img/s | p50 ms | p99 ms | per | cpu ms/img |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
		for _, s := range r.Stages {
			model := s.Model + precTag(s.Precision)
			if s.Variant != "" {
				model += " [" + s.Variant + "]"
			}
			if s.Err != "" {
				fmt.Fprintf(w, "| %s | %s | %s | %d | %d | error: %s | | | | |\n", s.Stage, s.Device, model, s.Batch, s.Streams, mdEscape(oneLine(s.Err)))
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %s | %s | %s | %s | %s |\n", s.Stage, s.Device, model, s.Batch, s.Streams,
				fmtRate(s.Rate), fmtMs(s.Latency.P50), fmtMs(s.Latency.P99), s.LatencyOf, fmtMs(s.CPUPerImage))
		}
		fmt.Fprintln(w)
		for _, x := range r.Ratios {
			fmt.Fprintf(w, "- %s %s%s: e2e/decode %.2f, e2e/min(decode, infer) %.2f", x.Device, x.Model, precTag(x.Precision), x.E2EOverDecode, x.E2EOverSlower)
			if x.OverReference > 0 {
				fmt.Fprintf(w, ", ours/reference %.2f×", x.OverReference)
			}
			fmt.Fprintln(w)
		}
		for _, c := range r.Comparisons {
			fmt.Fprintf(w, "- reference vs %s %s%s: %d images, Hamming max %d, mean %.2f\n", c.Device, c.Model, precTag(c.Precision), c.Hamming.Images, c.Hamming.Max, c.Hamming.Mean)
		}
		for _, d := range r.Precisions {
			fmt.Fprintf(w, "- %s %s %s vs %s: %d images, bits moved mean %.2f, max %d, identical %.0f%%\n",
				d.Device, d.Model, d.Precision, d.Against, d.Hamming.Images, d.Hamming.Mean, d.Hamming.Max, 100*d.Identical)
		}
		fmt.Fprintln(w)
	}
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
