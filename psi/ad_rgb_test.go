package psi

import (
	"bytes"
	"image"
	"os"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/imgproc"
)

// atOnly hides every method but image.Image's.
type atOnly struct{ image.Image }

// The RGBAt fast path of the derivative's luma gives the bytes of the
// generic path.
func TestDerivativeRGBFastPath(t *testing.T) {
	enc, err := NewDerivativeEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	for _, name := range []string{"coffee.png", "rocket.jpg"} {
		b, err := os.ReadFile("../testdata/photos/" + name)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := imgproc.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, max := range []int{4082, 300} {
			fast, err1 := enc.Encode(m, max)
			slow, err2 := enc.Encode(atOnly{m}, max)
			if err1 != nil || err2 != nil || !bytes.Equal(fast, slow) {
				t.Errorf("%s, %d bytes: fast path %d bytes (%v), generic %d bytes (%v)", name, max, len(fast), err1, len(slow), err2)
			}
		}
	}
}
