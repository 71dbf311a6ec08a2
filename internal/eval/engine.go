package eval

import (
	"context"
	"fmt"

	"github.com/vouchsafe/vouchsafe/engine"
)

// Engine adapts an engine.Hasher (a NeuralHash-compatible model, 96 bits)
// to Hasher. The images are hashed in memory, through the same pipeline as
// files (engine.Hasher.HashData).
type Engine struct {
	H *engine.Hasher
}

// Name returns the model's name.
func (e Engine) Name() string { return e.H.Name() }

// Bits returns engine.HashBits.
func (e Engine) Bits() int { return engine.HashBits }

// Hash hashes the images through the engine's pipeline. If the batch as a
// whole fails, every image without an error of its own gets the batch's
// error, since its hash cannot be told from one never computed.
func (e Engine) Hash(images [][]byte) ([][]byte, []error) {
	out := make([][]byte, len(images))
	errs := make([]error, len(images))
	if len(images) == 0 {
		return out, errs
	}
	hashes, herrs, err := e.H.HashData(context.Background(), images, nil)
	if err == nil && (len(hashes) != len(images) || len(herrs) != len(images)) {
		err = fmt.Errorf("eval: engine returned %d hashes and %d errors for %d images", len(hashes), len(herrs), len(images))
	}
	for i := range images {
		switch {
		case i < len(herrs) && herrs[i] != nil:
			errs[i] = herrs[i]
		case err != nil:
			errs[i] = err
		case i < len(hashes):
			h := hashes[i]
			out[i] = h[:]
		}
	}
	return out, errs
}
