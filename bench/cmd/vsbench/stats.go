package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/cputime"
)

// Latency summarises a set of durations, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// summarize returns the nearest-rank percentiles of d (which it sorts).
func summarize(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x) / 1e6 }
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p/100*float64(len(d)))) - 1
		return d[max(0, min(i, len(d)-1))]
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return Latency{
		P50:  ms(rank(50)),
		P90:  ms(rank(90)),
		P99:  ms(rank(99)),
		Max:  ms(d[len(d)-1]),
		Mean: ms(sum) / float64(len(d)),
	}
}

// Stage is one measurement: a stage of the pipeline on one device and model.
type Stage struct {
	Stage  string `json:"stage"`            // decode, infer, hash, e2e, reference
	Device string `json:"device,omitempty"` // empty for the device-independent stages
	Model  string `json:"model,omitempty"`
	// Precision is the model's precision (fp32, fp16) for infer and e2e.
	Precision string `json:"precision,omitempty"`
	// Variant names a session-option variant (item 1 of issue 15) when one
	// is measured; empty for the defaults.
	Variant string  `json:"variant,omitempty"`
	Batch   int     `json:"batch,omitempty"`   // images per inference call
	Workers int     `json:"workers,omitempty"` // decode goroutines
	Streams int     `json:"streams,omitempty"` // inference calls in flight at once
	Images  int     `json:"images"`            // images processed (all passes)
	Failed  int     `json:"failed,omitempty"`  // inputs that had no hash
	Seconds float64 `json:"seconds"`           // wall time
	Rate    float64 `json:"images_per_s"`
	// CPUPerImage is the process's CPU time (user + system, all threads) per
	// image during the stage, in milliseconds: on a shared, loaded machine it
	// varies much less than the wall-clock rate.
	CPUPerImage float64 `json:"cpu_ms_per_image,omitempty"`
	// LatencyOf says what the latencies time: "image" (one image through the
	// stage), "call" (one inference call of Batch images), or "image-in-flight"
	// (end to end: from handing the path to the pipeline to getting its hash),
	// or "run" (one run of the voucher stages' passes over the photos).
	LatencyOf string  `json:"latency_of,omitempty"`
	Latency   Latency `json:"latency"`
	Note      string  `json:"note,omitempty"`
	Err       string  `json:"error,omitempty"`
}

func newStage(stage string, images int, wall time.Duration, lat []time.Duration, of string) Stage {
	s := Stage{Stage: stage, Images: images, Seconds: wall.Seconds(), LatencyOf: of, Latency: summarize(lat)}
	if wall > 0 {
		s.Rate = float64(images) / wall.Seconds()
	}
	return s
}

// writeTable prints the stages as an aligned text table.
func writeTable(w io.Writer, stages []Stage) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tdevice\tmodel\tbatch\tworkers\timages\timg/s\tp50 ms\tp90 ms\tp99 ms\tper\tcpu ms/img\t")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	num := func(n int) string {
		if n == 0 {
			return "-"
		}
		return fmt.Sprint(n)
	}
	for _, s := range stages {
		if s.Err != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t-\t\n", s.Stage, dash(s.Device), dash(s.label()), num(s.Batch), num(s.Workers))
			continue
		}
		cpu := "-"
		if s.CPUPerImage > 0 {
			cpu = fmtMs(s.CPUPerImage)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			s.Stage, dash(s.Device), dash(s.label()), num(s.Batch), num(s.Workers), s.Images,
			fmtRate(s.Rate), fmtMs(s.Latency.P50), fmtMs(s.Latency.P90), fmtMs(s.Latency.P99), dash(s.LatencyOf), cpu)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range stages {
		if s.Err != "" {
			fmt.Fprintf(w, "%s %s %s: %s\n", s.Stage, s.Device, s.label(), oneLine(s.Err))
		}
	}
	return nil
}

func fmtRate(r float64) string {
	switch {
	case r >= 1e5:
		return fmt.Sprintf("%.3gM", r/1e6)
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

func fmtMs(ms float64) string {
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f", ms)
	case ms >= 1:
		return fmt.Sprintf("%.2f", ms)
	}
	return fmt.Sprintf("%.4f", ms)
}

// setCPU records the CPU time spent since start, per image.
func (s *Stage) setCPU(start time.Duration) {
	if d := cputime.Process() - start; d > 0 && start > 0 && s.Images > 0 {
		s.CPUPerImage = float64(d) / 1e6 / float64(s.Images)
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// label is the model column: the model, its precision when not fp32
// ("bench@fp16"), the variant and the streams when more than one
// ("bench[spin]×2").
func (s Stage) label() string {
	l := s.Model + precTag(s.Precision)
	if s.Variant != "" {
		l += "[" + s.Variant + "]"
	}
	if s.Streams > 1 {
		l += fmt.Sprintf("×%d", s.Streams)
	}
	return l
}
