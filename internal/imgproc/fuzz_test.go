package imgproc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addFixtureSeeds adds the small format fixtures as seeds.
func addFixtureSeeds(f *testing.F) {
	entries, err := os.ReadDir("testdata/formats")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "want_") {
			continue
		}
		data, err := os.ReadFile(filepath.Join("testdata", "formats", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
}

// FuzzPrepare checks that no input makes the hot path panic, and that a
// successful call describes a non-empty image.
func FuzzPrepare(f *testing.F) {
	addFixtureSeeds(f)
	p := NewPreparer(Options{AutoOrient: true, MaxPixels: 1 << 22})
	defer p.Close()
	exact := NewPreparer(Options{Exact: true, MaxPixels: 1 << 22})
	defer exact.Close()
	tensor := make([]float32, TensorLen)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range []*Preparer{p, exact} {
			info, err := p.Prepare(data, tensor)
			if err != nil {
				continue
			}
			if info.Width <= 0 || info.Height <= 0 || info.DecodedWidth <= 0 || info.DecodedHeight <= 0 {
				t.Fatalf("decoded without error but info %+v", info)
			}
			for _, v := range tensor {
				if !(v >= -1 && v <= 1) {
					t.Fatalf("tensor value %v out of [-1, 1]", v)
				}
			}
		}
	})
}

// FuzzJPEGOrientation checks the EXIF parser on arbitrary segments.
func FuzzJPEGOrientation(f *testing.F) {
	f.Add(mustReadF(f, "testdata/formats/exif6.jpg")[:200])
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM\x00*\x00\x00\x00\x08"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := jpegOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}

func mustReadF(f *testing.F, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return data
}

// FuzzProbe checks that no header makes Probe panic, and that the size it
// reads is the decoder's whenever both succeed (the memory budget and the
// pixel cap rely on it), and that DecodeCost covers at least the input and
// the fast path's RGB result, counted at the size the decoder gives.
func FuzzProbe(f *testing.F) {
	addFixtureSeeds(f)
	f.Add([]byte("\xff\xd8\xff\xdb\x00\x43"))
	d := NewDecoder()
	defer d.Close()
	var m RGB
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := Probe(data)
		if err != nil {
			return
		}
		if h.Width <= 0 || h.Height <= 0 || h.BytesPerPixel <= 0 {
			t.Fatalf("Probe = %+v without error", h)
		}
		if int64(h.Width)*int64(h.Height) > 1<<22 {
			return
		}
		_, info, err := Decode(data)
		if err == nil && (info.Width != h.Width || info.Height != h.Height) {
			t.Fatalf("Probe says %dx%d, Decode %dx%d", h.Width, h.Height, info.Width, info.Height)
		}
		full := DecodeCost(data, 0, 0)
		// Side rarely scales the small fixtures; 16 scales every JPEG seed.
		for _, minSide := range []int{Side, 16} {
			cost := DecodeCost(data, minSide, 0)
			if cost < int64(len(data)) {
				t.Fatal("DecodeCost below the input's size")
			}
			if _, err := d.Decode(data, &m, DecodeOptions{MinSide: minSide}); err == nil {
				out := int64(m.Rect.Dx()) * int64(m.Rect.Dy())
				if cost < int64(len(data))+3*out {
					t.Fatalf("DecodeCost %d below the input (%d bytes) and its %dx%d result", cost, len(data), m.Rect.Dx(), m.Rect.Dy())
				}
				// The estimate holds the RGB result twice at the decoder's
				// real output size: scaling changes it by exactly that.
				if got, want := cost-full, 6*(out-int64(h.Width)*int64(h.Height)); got != want {
					t.Fatalf("MinSide %d: DecodeCost moved by %d for a %dx%d result of a %dx%d image, want %d", minSide, got, m.Rect.Dx(), m.Rect.Dy(), h.Width, h.Height, want)
				}
			}
		}
	})
}
