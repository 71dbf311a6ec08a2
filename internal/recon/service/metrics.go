package service

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// metrics is a small Prometheus text-format registry: counters and
// histograms with fixed label sets, written by hand to keep dependencies out.
type metrics struct {
	mu       sync.Mutex
	families []*family
}

type family struct {
	name, help, typ string
	labels          []string
	series          map[string]*series // key: joined label values
}

type series struct {
	values []string
	count  float64   // counter value, or histogram count
	sum    float64   // histogram sum
	bucket []float64 // histogram cumulative-per-bucket counts (non-cumulative here)
}

// latencyBuckets are the upper bounds, in seconds, of the latency histograms.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func (m *metrics) add(name, help, typ string, labels ...string) *family {
	f := &family{name: name, help: help, typ: typ, labels: labels, series: map[string]*series{}}
	m.families = append(m.families, f)
	return f
}

func (f *family) get(values []string) *series {
	if len(values) != len(f.labels) {
		panic("service: metric " + f.name + ": wrong number of label values")
	}
	k := strings.Join(values, "\x00")
	s := f.series[k]
	if s == nil {
		s = &series{values: values}
		if f.typ == "histogram" {
			s.bucket = make([]float64, len(latencyBuckets))
		}
		f.series[k] = s
	}
	return s
}

// inc adds v to a counter.
func (m *metrics) inc(f *family, v float64, labels ...string) {
	m.mu.Lock()
	f.get(labels).count += v
	m.mu.Unlock()
}

// observe records a duration in a histogram.
func (m *metrics) observe(f *family, d time.Duration, labels ...string) {
	v := d.Seconds()
	m.mu.Lock()
	s := f.get(labels)
	s.count++
	s.sum += v
	for i, ub := range latencyBuckets {
		if v <= ub {
			s.bucket[i]++
			break
		}
	}
	m.mu.Unlock()
}

// value returns a counter's value (for tests).
func (m *metrics) value(f *family, labels ...string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return f.get(labels).count
}

// write writes the exposition text format (version 0.0.4).
func (m *metrics) write(w io.Writer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, f := range m.families {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.typ)
		keys := make([]string, 0, len(f.series))
		for k := range f.series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s := f.series[k]
			if f.typ != "histogram" {
				fmt.Fprintf(&b, "%s%s %s\n", f.name, labelText(f.labels, s.values, "", ""), num(s.count))
				continue
			}
			cum := 0.0
			for i, ub := range latencyBuckets {
				cum += s.bucket[i]
				fmt.Fprintf(&b, "%s_bucket%s %s\n", f.name, labelText(f.labels, s.values, "le", num(ub)), num(cum))
			}
			fmt.Fprintf(&b, "%s_bucket%s %s\n", f.name, labelText(f.labels, s.values, "le", "+Inf"), num(s.count))
			fmt.Fprintf(&b, "%s_sum%s %s\n", f.name, labelText(f.labels, s.values, "", ""), num(s.sum))
			fmt.Fprintf(&b, "%s_count%s %s\n", f.name, labelText(f.labels, s.values, "", ""), num(s.count))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func labelText(names, values []string, extraName, extraValue string) string {
	if len(names) == 0 && extraName == "" {
		return ""
	}
	var parts []string
	for i, n := range names {
		parts = append(parts, fmt.Sprintf("%s=%q", n, values[i]))
	}
	if extraName != "" {
		parts = append(parts, fmt.Sprintf("%s=%q", extraName, extraValue))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%g", v)
}
