//go:build cgo

package jpeg

import "testing"

// BenchmarkReadHeader creates a decompressor, reads a header and destroys
// it: an upper bound on what a fresh decompressor per call adds over
// reusing one (the header is read on every decode either way).
func BenchmarkReadHeader(b *testing.B) {
	data := read(b, "good_420.jpg")
	for b.Loop() {
		if _, err := ReadHeader(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode decodes the 157×107 fixtures, where per-call costs weigh
// most.
func BenchmarkDecode(b *testing.B) {
	for _, tc := range []struct {
		name, file string
		opts       Options
	}{
		{"420", "good_420.jpg", Options{}},
		{"444", "good_444.jpg", Options{}},
		{"progressive", "good_progressive.jpg", Options{}},
		{"420_quarter", "good_420.jpg", Options{ScaleNum: 1, ScaleDenom: 4}},
		{"420_float_luma", "good_420.jpg", Options{DCT: DCTFloat, Out: Gray}},
	} {
		data := read(b, tc.file)
		h, err := ReadHeader(data)
		if err != nil {
			b.Fatal(err)
		}
		w, ht := tc.opts.OutputSize(h)
		n := 3
		if tc.opts.Out == Gray {
			n = 1
		}
		buf := make([]byte, n*w*ht)
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Decode(data, tc.opts, buf, n*w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
