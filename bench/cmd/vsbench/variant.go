package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vouchsafe/vouchsafe/internal/ort"
)

// variant is one set of CPU session settings measured side by side with the
// others (issue 15, item 1).
type variant struct {
	Name     string
	Tuning   ort.CPUTuning
	Threads  int // intra-op threads in all; 0: --threads
	Sessions int // CPU sessions sharing the threads; 0: one
	Batch    int // end-to-end batch; 0: --batch
}

func (v variant) label() string {
	if v.Name == "" {
		return ""
	}
	return " [" + v.Name + "]"
}

// parseVariant parses '+'-joined settings such as "sessions=2+threads=2+spin=on".
func parseVariant(spec string) (variant, error) {
	v := variant{Name: spec}
	for _, item := range strings.Split(spec, "+") {
		k, val, hasVal := strings.Cut(strings.TrimSpace(item), "=")
		num := func() (int, error) {
			n, err := strconv.Atoi(val)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("variant %q: %s=%q: want a positive integer", spec, k, val)
			}
			return n, nil
		}
		var err error
		switch {
		case k == "default" && !hasVal:
		case k == "ort-defaults" && !hasVal:
			v.Tuning.ORTDefaults = true
		case k == "spin" && hasVal:
			v.Tuning.Spin = val
		case k == "opt" && hasVal:
			v.Tuning.GraphOpt = val
		case k == "nomempattern" && !hasVal:
			v.Tuning.NoMemPattern = true
		case k == "noarena" && !hasVal:
			v.Tuning.NoArena = true
		case k == "affinity" && !hasVal:
			v.Tuning.Affinity = true
		case k == "threads" && hasVal:
			v.Threads, err = num()
		case k == "inter" && hasVal:
			v.Tuning.InterOpThreads, err = num()
		case k == "sessions" && hasVal:
			v.Sessions, err = num()
		case k == "batch" && hasVal:
			v.Batch, err = num()
		default:
			return variant{}, fmt.Errorf("variant %q: unknown setting %q", spec, item)
		}
		if err != nil {
			return variant{}, err
		}
	}
	if err := v.Tuning.Validate(); err != nil {
		return variant{}, fmt.Errorf("variant %q: %w", spec, err)
	}
	return v, nil
}

// variantsFor is the list of variants a device is measured with: the CPU
// variants asked for, or just the defaults.
func variantsFor(dev string, vs []variant) []variant {
	if dev != string(ort.CPU) || len(vs) == 0 {
		return []variant{{}}
	}
	return vs
}

// firstVariant is the variant whose end-to-end run is compared with the
// reference: the first CPU variant, or none.
func firstVariant(c config) string {
	if len(c.variants) == 0 {
		return ""
	}
	return c.variants[0].Name
}

func cmpInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}
