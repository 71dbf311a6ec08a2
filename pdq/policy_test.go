package pdq

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/imgproc"
)

// TestDecodePolicyMatchesNeuralHash checks issue 11 item 8: PDQ and the
// NeuralHash decoder (internal/imgproc) refuse and accept the same files.
// PDQ used to hash truncated JPEGs that NeuralHash refuses, and to refuse
// arithmetic-coded JPEGs that NeuralHash hashes.
func TestDecodePolicyMatchesNeuralHash(t *testing.T) {
	if MaxPixels != imgproc.DefaultMaxPixels {
		t.Errorf("pixel caps differ: PDQ %d, NeuralHash %d", MaxPixels, imgproc.DefaultMaxPixels)
	}
	var files []string
	for _, glob := range []string{"../testdata/photos/*.jpg", "../internal/imgproc/testdata/formats/*.jpg", "testdata/*.jpg"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("only %d JPEGs found", len(files))
	}
	check := func(name string, data []byte) {
		_, _, nerr := imgproc.Decode(data)
		_, perr := Decode(data)
		if (nerr == nil) != (perr == nil) {
			t.Errorf("%s: NeuralHash decoder: %v; PDQ: %v", name, nerr, perr)
		}
		if errors.Is(nerr, imgproc.ErrTruncated) && !errors.Is(perr, imgproc.ErrTruncated) {
			t.Errorf("%s: truncated for NeuralHash (%v), not for PDQ (%v)", name, nerr, perr)
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		check(f, data)
		// Cut in the entropy-coded data, as a half-written file is.
		for _, frac := range []int{30, 60, 90, 99} {
			n := len(data) * frac / 100
			check(fmt.Sprintf("%s cut at %d of %d bytes", f, n, len(data)), data[:n])
		}
	}
	arith, err := os.ReadFile("testdata/arith.jpg")
	if err != nil {
		t.Fatal(err)
	}
	_, perr := Decode(arith)
	_, _, nerr := imgproc.Decode(arith)
	if turboJPEG && (perr != nil || nerr != nil) {
		t.Errorf("arithmetic-coded JPEG: PDQ %v, NeuralHash %v; libjpeg-turbo decodes it", perr, nerr)
	}
}
