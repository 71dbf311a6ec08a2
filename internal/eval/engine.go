package eval

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vouchsafe/vouchsafe/engine"
)

// Engine adapts an engine.Hasher (a NeuralHash-compatible model, 96 bits)
// to Hasher. The engine hashes files, so each batch is written to a
// temporary folder first.
type Engine struct {
	H *engine.Hasher
}

// Name returns the model's name.
func (e Engine) Name() string { return e.H.Name() }

// Bits returns engine.HashBits.
func (e Engine) Bits() int { return engine.HashBits }

// Hash hashes the images through the engine's pipeline.
func (e Engine) Hash(images [][]byte) ([][]byte, []error) {
	out := make([][]byte, len(images))
	errs := make([]error, len(images))
	dir, err := os.MkdirTemp("", "vouchsafe-eval-")
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return out, errs
	}
	defer os.RemoveAll(dir)
	in := make(chan engine.Input, len(images))
	for i, b := range images {
		p := filepath.Join(dir, fmt.Sprintf("%06d.img", i))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			in <- engine.Input{Path: p, Err: err}
			continue
		}
		in <- engine.Input{Path: p}
	}
	close(in)
	i := 0
	_, err = e.H.Run(context.Background(), in, func(r engine.Record) error {
		if r.Seq >= 0 && int(r.Seq) < len(images) {
			if r.Err != nil {
				errs[r.Seq] = r.Err
			} else {
				h := r.Hash
				out[r.Seq] = h[:]
			}
		}
		i++
		return nil
	})
	if err != nil || i != len(images) {
		if err == nil {
			err = fmt.Errorf("eval: engine returned %d records for %d images", i, len(images))
		}
		for k := range errs {
			if out[k] == nil && errs[k] == nil {
				errs[k] = err
			}
		}
	}
	return out, errs
}
