package eval

import (
	"context"
	"testing"

	"github.com/vouchsafe/vouchsafe/engine"
	"github.com/vouchsafe/vouchsafe/internal/ort"
	"github.com/vouchsafe/vouchsafe/internal/ort/orttest"
)

// TestEngineHash checks the adapter against the engine's own in-memory
// hashing: the same hashes, one error per undecodable image, and the
// batch's order kept.
func TestEngineHash(t *testing.T) {
	if ort.Available { // without cgo the default model runs in pure Go
		orttest.Library(t)
	}
	h, err := engine.NewHasher(engine.Options{Model: "default", Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	photos := loadPhotos(t)[:2]
	images := [][]byte{photos[0].Data, []byte("not an image"), photos[1].Data, nil}
	e := Engine{H: h}
	if e.Bits() != engine.HashBits || e.Name() == "" {
		t.Fatalf("Bits %d, Name %q", e.Bits(), e.Name())
	}
	got, errs := e.Hash(images)
	if len(got) != len(images) || len(errs) != len(images) {
		t.Fatalf("%d hashes, %d errors for %d images", len(got), len(errs), len(images))
	}
	want, werrs, err := h.HashData(context.Background(), images, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range images {
		bad := i == 1 || i == 3
		if bad != (errs[i] != nil) || bad != (got[i] == nil) || (werrs[i] != nil) != bad {
			t.Fatalf("image %d: hash %x, error %v (engine: %v)", i, got[i], errs[i], werrs[i])
		}
		if !bad && string(got[i]) != string(want[i][:]) {
			t.Errorf("image %d: %x, engine %x", i, got[i], want[i])
		}
	}
	if string(got[0]) == string(got[2]) {
		t.Errorf("two photos hash alike: %x", got[0])
	}
	if out, errs := e.Hash(nil); len(out) != 0 || len(errs) != 0 {
		t.Errorf("empty batch: %d hashes, %d errors", len(out), len(errs))
	}
}
