package imgproc

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorruptDoesNotPoisonDecoder is issue 11's repro: a JPEG cut inside its
// DQT marker used to leave the libjpeg-turbo handle broken, so that every
// later JPEG on the same decoder failed ("Bogus DQT index 15").
func TestCorruptDoesNotPoisonDecoder(t *testing.T) {
	good := map[string][]byte{
		"rocket.jpg": readFile(t, "../../testdata/photos/rocket.jpg"),
		"retina.jpg": readFile(t, "../../testdata/photos/retina.jpg"),
	}
	entries, err := os.ReadDir("testdata/formats")
	if err != nil {
		t.Fatal(err)
	}
	var corrupt [][]byte
	corrupt = append(corrupt, []byte("\xff\xd8\xff\xdb\x00\x43"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "want_") {
			continue
		}
		data := readFile(t, filepath.Join("testdata", "formats", e.Name()))
		good[e.Name()] = data
		if !strings.HasSuffix(e.Name(), ".jpg") {
			continue
		}
		for _, n := range []int{6, 20, 100, 300, len(data) / 2} {
			if n < len(data) {
				corrupt = append(corrupt, data[:n])
			}
		}
		flipped := bytes.Clone(data)
		flipped[len(flipped)/3] ^= 0x5a
		corrupt = append(corrupt, flipped)
	}
	for _, opts := range []DecodeOptions{{}, {MinSide: Side}} {
		want := map[string][]byte{}
		for name, data := range good {
			m, _, err := Decode(data)
			if opts.MinSide > 0 {
				d := NewDecoder()
				m = new(RGB)
				_, err = d.Decode(data, m, opts)
				d.Close()
			}
			if err != nil {
				t.Fatalf("%s alone: %v", name, err)
			}
			want[name] = bytes.Clone(m.Pix)
		}
		d := NewDecoder()
		var m RGB
		for i, bad := range corrupt {
			d.Decode(bad, &m, opts) // fails, or decodes a damaged image
			for name, data := range good {
				if !strings.HasSuffix(name, ".jpg") {
					continue // the JPEG path (libjpeg, the CMYK scratch) is the one issue 11 was about
				}
				if _, err := d.Decode(data, &m, opts); err != nil {
					t.Fatalf("MinSide %d: %s after corrupt input %d (%q...): %v", opts.MinSide, name, i, bad[:min(len(bad), 8)], err)
				}
				if !bytes.Equal(m.Pix, want[name]) {
					t.Fatalf("MinSide %d: %s after corrupt input %d decodes differently than alone", opts.MinSide, name, i)
				}
			}
		}
		d.Close()
	}
}
