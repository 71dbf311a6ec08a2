package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/vouchsafe/vouchsafe/engine"
	"github.com/vouchsafe/vouchsafe/models"
)

// refOutput is what bench/reference.py prints.
type refOutput struct {
	Reference string      `json:"reference"`
	ORT       string      `json:"onnxruntime"`
	Providers []string    `json:"providers"`
	Python    string      `json:"python"`
	Images    int         `json:"images"`
	Failed    int         `json:"failed"`
	Seconds   float64     `json:"seconds"`
	Rate      float64     `json:"images_per_s"`
	Latency   Latency     `json:"latency"`
	Results   []refResult `json:"results"`
}

type refResult struct {
	Path  string `json:"path"`
	Hash  string `json:"hash,omitempty"`
	Error string `json:"error,omitempty"`
}

// exitMissingModules is the status reference.py exits with when onnxruntime,
// Pillow or NumPy cannot be imported.
const exitMissingModules = 3

// modelFiles returns the ONNX and seed files the reference runs: the model
// file and --seed for a file model, or the embedded model written to dir.
func modelFiles(model, seed, dir string) (onnxPath, seedPath string, err error) {
	m, ok := models.Lookup(model)
	if !ok {
		if seed == "" {
			return "", "", fmt.Errorf("model %s: the reference needs --seed with a model file", model)
		}
		return model, seed, nil
	}
	onnxPath = filepath.Join(dir, m.Name+".onnx")
	seedPath = filepath.Join(dir, m.Name+"_seed.dat")
	if err := os.WriteFile(onnxPath, m.ONNX, 0o644); err != nil {
		return "", "", err
	}
	if seed != "" {
		return onnxPath, seed, nil
	}
	if err := os.WriteFile(seedPath, m.Seed, 0o644); err != nil {
		return "", "", err
	}
	return onnxPath, seedPath, nil
}

// runReference runs the reference script with the interpreter on the files
// (listed in a file in dir) and parses its JSON.
func runReference(ctx context.Context, interp, script, provider, onnxPath, seedPath, dir string, files []string) (*refOutput, error) {
	list := filepath.Join(dir, "files.txt")
	if err := os.WriteFile(list, []byte(strings.Join(files, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	args := []string{script, "--model", onnxPath, "--seed", seedPath, "--list", list}
	if provider != "" {
		args = append(args, "--provider", provider)
	}
	cmd := exec.CommandContext(ctx, interp, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == exitMissingModules {
			return nil, fmt.Errorf("reference pipeline unavailable: %s", msg)
		}
		return nil, fmt.Errorf("reference %s %s: %s", interp, script, msg)
	}
	var out refOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("reference %s: output is not its JSON: %w", script, err)
	}
	if out.Images != len(files) || len(out.Results) != len(files) {
		return nil, fmt.Errorf("reference %s: reported %d images and %d results for %d files", script, out.Images, len(out.Results), len(files))
	}
	return &out, nil
}

// Comparison sets one device's end-to-end run against the reference.
type Comparison struct {
	Model  string `json:"model"`
	Device string `json:"device"`
	// Precision is the precision of our run (fp32 unless asked otherwise).
	Precision string  `json:"precision,omitempty"`
	Ours      float64 `json:"ours_images_per_s"`
	Ref       float64 `json:"reference_images_per_s"`
	Ratio     float64 `json:"throughput_ratio"`
	Hamming   Hamming `json:"hamming"`
	// PerImage holds one entry per image both pipelines hashed.
	PerImage []ImageDistance `json:"per_image"`
	Err      string          `json:"error,omitempty"`
}

// Hamming summarises the per-image distances.
type Hamming struct {
	Images    int         `json:"images"`
	Max       int         `json:"max"`
	Mean      float64     `json:"mean"`
	Histogram map[int]int `json:"histogram"` // distance → images
}

// ImageDistance is one image's two hashes.
type ImageDistance struct {
	Path     string `json:"path"`
	Ours     string `json:"ours"`
	Ref      string `json:"reference"`
	Distance int    `json:"distance"`
}

// compare matches the reference's hashes to ours by path.
func compare(model, device string, ours float64, ref *refOutput, hashes map[string]engine.Hash) Comparison {
	c := Comparison{Model: model, Device: device, Ours: ours, Ref: ref.Rate, Hamming: Hamming{Histogram: map[int]int{}}}
	if ref.Rate > 0 {
		c.Ratio = ours / ref.Rate
	}
	var bad []string
	sum := 0
	for _, r := range ref.Results {
		h, ok := hashes[r.Path]
		if !ok || r.Error != "" {
			continue
		}
		rh, err := engine.ParseHash(r.Hash)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", r.Path, err))
			continue
		}
		d := engine.Distance(h, rh)
		c.PerImage = append(c.PerImage, ImageDistance{Path: r.Path, Ours: h.String(), Ref: rh.String(), Distance: d})
		c.Hamming.Images++
		c.Hamming.Histogram[d]++
		c.Hamming.Max = max(c.Hamming.Max, d)
		sum += d
	}
	if c.Hamming.Images > 0 {
		c.Hamming.Mean = float64(sum) / float64(c.Hamming.Images)
	}
	if len(bad) > 0 {
		c.Err = "reference hashes not parsed: " + strings.Join(bad, "; ")
	}
	return c
}
