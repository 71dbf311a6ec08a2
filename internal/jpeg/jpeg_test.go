//go:build cgo

package jpeg

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The good_ files are a 157×107 crop of testdata/photos/rocket.jpg, written
// by libjpeg-turbo's cjpeg 2.1.5: -quality 85 -sample 2x2 (420), -sample 2x1
// (422), -grayscale, -progressive and -arithmetic (both 4:2:0, so their
// coefficients are good_420's), and -quality 90 -sample 1x1 (444);
// good_cmyk.jpg is internal/imgproc's Adobe CMYK fixture (97×61).

func read(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// decodeAll decodes data at opts into a buffer of the size OutputSize
// gives.
func decodeAll(t testing.TB, data []byte, opts Options) ([]byte, Info) {
	t.Helper()
	h, err := ReadHeader(data)
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	w, ht := opts.OutputSize(h)
	n := 3
	switch opts.Out {
	case Gray:
		n = 1
	case CMYK:
		n = 4
	}
	buf := make([]byte, n*w*ht)
	info, err := Decode(data, opts, buf, n*w)
	if err != nil {
		t.Fatalf("Decode %+v: %v", opts, err)
	}
	if info.OutWidth != w || info.OutHeight != ht || info.OutComponents != n {
		t.Fatalf("Decode %+v: %dx%dx%d, OutputSize says %dx%dx%d", opts, info.OutWidth, info.OutHeight, info.OutComponents, w, ht, n)
	}
	if info.Header != h {
		t.Fatalf("Decode's header %+v differs from ReadHeader's %+v", info.Header, h)
	}
	return buf, info
}

func TestHeader(t *testing.T) {
	s11, s21, s22 := Sampling{1, 1}, Sampling{2, 1}, Sampling{2, 2}
	for _, tc := range []struct {
		file string
		want Header
	}{
		{"good_420.jpg", Header{Width: 157, Height: 107, Components: 3, ColorSpace: YCbCr, Precision: 8, Sampling: [4]Sampling{s22, s11, s11}}},
		{"good_422.jpg", Header{Width: 157, Height: 107, Components: 3, ColorSpace: YCbCr, Precision: 8, Sampling: [4]Sampling{s21, s11, s11}}},
		{"good_444.jpg", Header{Width: 157, Height: 107, Components: 3, ColorSpace: YCbCr, Precision: 8, Sampling: [4]Sampling{s11, s11, s11}}},
		{"good_gray.jpg", Header{Width: 157, Height: 107, Components: 1, ColorSpace: Gray, Precision: 8, Sampling: [4]Sampling{s11}}},
		{"good_progressive.jpg", Header{Width: 157, Height: 107, Components: 3, ColorSpace: YCbCr, Precision: 8, Progressive: true, Sampling: [4]Sampling{s22, s11, s11}}},
		{"good_arith.jpg", Header{Width: 157, Height: 107, Components: 3, ColorSpace: YCbCr, Precision: 8, Arithmetic: true, Sampling: [4]Sampling{s22, s11, s11}}},
		{"good_cmyk.jpg", Header{Width: 97, Height: 61, Components: 4, ColorSpace: CMYK, Precision: 8, Adobe: true, Sampling: [4]Sampling{s11, s11, s11, s11}}},
	} {
		h, err := ReadHeader(read(t, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
		} else if h != tc.want {
			t.Errorf("%s: header\n%+v, want\n%+v", tc.file, h, tc.want)
		}
	}
}

// goRGB decodes with image/jpeg, as an independent check of layout and
// colour conversion.
func goRGB(t *testing.T, data []byte) []byte {
	m, err := stdjpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b := m.Bounds()
	out := make([]byte, 0, 3*b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := m.At(x, y).RGBA()
			out = append(out, byte(r>>8), byte(g>>8), byte(bl>>8))
		}
	}
	return out
}

// diff returns the largest and the mean absolute difference.
func diff(a, b []byte) (int, float64) {
	maxd, sum := 0, 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		maxd = max(maxd, d)
		sum += d
	}
	return maxd, float64(sum) / float64(len(a))
}

func TestDecodeGood(t *testing.T) {
	base, _ := decodeAll(t, read(t, "good_420.jpg"), Options{})
	for _, f := range []string{"good_420.jpg", "good_422.jpg", "good_444.jpg", "good_gray.jpg", "good_progressive.jpg", "good_arith.jpg"} {
		data := read(t, f)
		got, info := decodeAll(t, data, Options{})
		if info.Warnings != 0 {
			t.Errorf("%s: %d warnings", f, info.Warnings)
		}
		// Same coefficients, other entropy coding: the same pixels.
		if (f == "good_progressive.jpg" || f == "good_arith.jpg") && !bytes.Equal(got, base) {
			t.Errorf("%s decodes differently from good_420.jpg", f)
		}
		if f == "good_arith.jpg" {
			continue // image/jpeg does not decode arithmetic coding
		}
		// Without fancy upsampling libjpeg replicates chroma, as image/jpeg
		// does: only the IDCT's and the conversion's rounding differ.
		plain, _ := decodeAll(t, data, Options{NoFancyUpsampling: true})
		want := goRGB(t, data)
		if m, mean := diff(plain, want); m > 3 || mean > 0.5 {
			t.Errorf("%s: differs from image/jpeg by up to %d (mean %.2f)", f, m, mean)
		}
		if m, mean := diff(got, want); mean > 2 {
			t.Errorf("%s: fancy upsampling differs from image/jpeg by up to %d (mean %.2f)", f, m, mean)
		}
	}

	// Gray output of a YCbCr file is its luma plane; RGB output of a gray
	// file replicates it.
	for _, f := range []string{"good_444.jpg", "good_420.jpg", "good_gray.jpg"} {
		data := read(t, f)
		gray, info := decodeAll(t, data, Options{Out: Gray})
		w, h := info.OutWidth, info.OutHeight
		y := make([]byte, w*h)
		if _, err := DecodePlanes(data, Options{}, [3][]byte{y}, w, h); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gray, y) {
			t.Errorf("%s: Gray output is not the luma plane", f)
		}
	}
	gray, _ := decodeAll(t, read(t, "good_gray.jpg"), Options{Out: Gray})
	rgb, _ := decodeAll(t, read(t, "good_gray.jpg"), Options{})
	for i, v := range gray {
		if rgb[3*i] != v || rgb[3*i+1] != v || rgb[3*i+2] != v {
			t.Fatalf("gray file as RGB: pixel %d is %v, gray %d", i, rgb[3*i:3*i+3], v)
		}
	}

	// CMYK: the stored (Adobe: inverted) samples, which image/jpeg inverts.
	data := read(t, "good_cmyk.jpg")
	cmyk, _ := decodeAll(t, data, Options{Out: CMYK})
	m, err := stdjpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	gm, ok := m.(*image.CMYK)
	if !ok {
		t.Fatalf("image/jpeg gives %T", m)
	}
	inv := make([]byte, len(cmyk))
	for i, v := range cmyk {
		inv[i] = 255 - v
	}
	if d, mean := diff(inv, gm.Pix); d > 3 || mean > 0.5 {
		t.Errorf("CMYK differs from image/jpeg's by up to %d (mean %.2f)", d, mean)
	}
}

func TestDCTMethods(t *testing.T) {
	data := read(t, "good_444.jpg")
	islow, _ := decodeAll(t, data, Options{})
	for _, m := range []DCTMethod{DCTFloat, DCTIFast} {
		got, _ := decodeAll(t, data, Options{DCT: m})
		d, mean := diff(got, islow)
		if d == 0 {
			t.Errorf("DCT method %d gives the accurate IDCT's pixels: not applied", m)
		}
		if mean > 1 {
			t.Errorf("DCT method %d differs from the accurate IDCT by %.2f on average", m, mean)
		}
	}
}

// TestScaledSizes checks Scaled and OutputSize against libjpeg's own output
// size for every scale, including factors libjpeg rounds up to k/8.
func TestScaledSizes(t *testing.T) {
	data := read(t, "good_420.jpg")
	for k := 1; k <= 16; k++ {
		// (2k-1)/16 and (3k-1)/24 lie between (k-1)/8 and k/8: libjpeg
		// rounds them up to k/8.
		for _, f := range [][2]int{{k, 8}, {2 * k, 16}, {2*k - 1, 16}, {3*k - 1, 24}} {
			opts := Options{ScaleNum: f[0], ScaleDenom: f[1]}
			_, info := decodeAll(t, data, opts) // checks OutputSize
			if want := (157*k + 7) / 8; info.OutWidth != want {
				t.Errorf("%d/%d: width %d, want %d", f[0], f[1], info.OutWidth, want)
			}
		}
	}
	for _, tc := range []struct{ n, num, den, want int }{
		{157, 1, 2, 79}, {157, 1, 3, 59}, {157, 1, 4, 40}, {157, 1, 8, 20}, {157, 3, 4, 118},
		{157, 2, 1, 314}, {157, 1, 1, 157}, {157, 0, 0, 157}, {107, 3, 8, 41}, {1, 1, 8, 1},
	} {
		if got := Scaled(tc.n, tc.num, tc.den); got != tc.want {
			t.Errorf("Scaled(%d, %d, %d) = %d, want %d", tc.n, tc.num, tc.den, got, tc.want)
		}
	}
	// Planes at twice the size: 4:2:0 chroma at full resolution.
	w, h := 157, 107
	cb, cr := make([]byte, w*h), make([]byte, w*h)
	info, err := DecodePlanes(data, Options{ScaleNum: 16, ScaleDenom: 8}, [3][]byte{nil, cb, cr}, w, h)
	if err != nil {
		t.Fatal(err)
	}
	if info.OutWidth != 2*w || info.OutHeight != 2*h {
		t.Errorf("planes at 16/8: %dx%d", info.OutWidth, info.OutHeight)
	}
	if bytes.Count(cb, []byte{0}) == len(cb) {
		t.Error("planes at 16/8: Cb not written")
	}
}

// manyScans repeats the smallest scan of a progressive file (with the table
// markers after it) n times.
func manyScans(data []byte, n int) []byte {
	var pos []int
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte{0xff, 0xda})
		if j < 0 {
			break
		}
		pos = append(pos, i+j)
		i += j + 2
	}
	best := 0
	for i := 1; i+1 < len(pos); i++ {
		if pos[i+1]-pos[i] < pos[best+1]-pos[best] {
			best = i
		}
	}
	seg := data[pos[best]:pos[best+1]]
	out := bytes.Clone(data[:pos[best+1]])
	for range n {
		out = append(out, seg...)
	}
	return append(out, data[pos[best+1]:]...)
}

func TestDecodeFail(t *testing.T) {
	good := read(t, "good_420.jpg")
	prog := read(t, "good_progressive.jpg")
	dqt := bytes.Clone(good)
	i := bytes.Index(dqt, []byte{0xff, 0xdb})
	dqt[i+4] = 0x0f // table 15
	sof := bytes.Clone(good)
	i = bytes.Index(sof, []byte{0xff, 0xc0})
	sof[i+2], sof[i+3] = 0, 3 // a frame header of length 3
	// The good file's pixels before any failure, to compare with after.
	want, _ := decodeAll(t, good, Options{})
	for _, tc := range []struct {
		name string
		data []byte
		opts Options
		is   error  // wrapped sentinel, or nil
		msg  string // part of libjpeg's message
	}{
		{"fail_empty", nil, Options{}, ErrTruncated, "empty"},
		{"fail_not_jpeg", []byte("GIF89a...."), Options{}, nil, "Not a JPEG file"},
		{"fail_header_cut", []byte("\xff\xd8\xff\xdb\x00\x43"), Options{}, ErrTruncated, "Premature end"},
		{"fail_truncated", good[:len(good)*6/10], Options{}, ErrTruncated, "Premature end"},
		{"fail_truncated_progressive", prog[:len(prog)*9/10], Options{}, ErrTruncated, "Premature end"},
		{"fail_no_eoi", good[:len(good)-2], Options{}, ErrTruncated, "Premature end"},
		{"fail_dqt_index", dqt, Options{}, nil, "Bogus DQT index 15"},
		{"fail_sof_length", sof, Options{}, nil, "Bogus marker length"},
		{"fail_scans", manyScans(prog, DefaultMaxScans), Options{}, ErrTooManyScans, "more than 500 scans"},
		{"fail_scans_limit", prog, Options{MaxScans: 5}, ErrTooManyScans, "more than 5 scans"},
		{"fail_cmyk_of_ycbcr", good, Options{Out: CMYK}, nil, "Unsupported color conversion"},
		{"fail_scale", good, Options{ScaleNum: 3, ScaleDenom: 1}, nil, "scale 3/1"},
		{"fail_out", good, Options{Out: YCCK}, nil, "YCCK"},
	} {
		buf := make([]byte, 4*157*107)
		_, err := Decode(tc.data, tc.opts, buf, 4*157)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %v and %q", tc.name, err, tc.is, tc.msg)
		}
		if tc.opts.Out == Unknown && tc.opts.ScaleNum == 0 {
			_, perr := DecodePlanes(tc.data, tc.opts, [3][]byte{buf[:157*107]}, 157, 107)
			if (err == nil) != (perr == nil) || (tc.is != nil && !errors.Is(perr, tc.is)) {
				t.Errorf("%s: DecodePlanes: %v; Decode: %v", tc.name, perr, err)
			}
		}
	}
	// Every failure above ran on a decompressor of its own: a good file
	// still decodes the same.
	if got, _ := decodeAll(t, good, Options{}); !bytes.Equal(got, want) {
		t.Error("good_420.jpg decodes differently after the failures")
	}

	// A limit above the file's scans decodes it, with libjpeg's warnings
	// about the repeated scans counted.
	data := manyScans(prog, DefaultMaxScans)
	if _, info := decodeAll(t, data, Options{MaxScans: 2 * DefaultMaxScans}); info.Warnings == 0 {
		t.Error("repeated scans: no warnings counted")
	}

	// Buffers that cannot hold the image are refused before decoding.
	for _, tc := range []struct {
		name        string
		size, strid int
	}{{"short", 3*157*107 - 1, 3 * 157}, {"narrow stride", 3 * 157 * 107, 3*157 - 1}, {"nil", 0, 3 * 157}} {
		if _, err := Decode(good, Options{}, make([]byte, tc.size), tc.strid); err == nil || !strings.Contains(err.Error(), "too small") {
			t.Errorf("%s buffer: %v", tc.name, err)
		}
	}
	plane := make([]byte, 157*107)
	if _, err := DecodePlanes(read(t, "good_gray.jpg"), Options{}, [3][]byte{plane, plane}, 157, 107); err == nil {
		t.Error("a plane for a missing component: no error")
	}
	if _, err := DecodePlanes(good, Options{}, [3][]byte{plane[:100]}, 157, 107); err == nil {
		t.Error("a short plane: no error")
	}
	if _, err := DecodePlanes(read(t, "good_cmyk.jpg"), Options{}, [3][]byte{plane}, 97, 61); err == nil {
		t.Error("a 4-component file as planes: no error")
	}
}

// TestConcurrent decodes on several goroutines at once (for the race
// detector): nothing is shared between calls.
func TestConcurrent(t *testing.T) {
	files := []string{"good_420.jpg", "good_progressive.jpg", "good_cmyk.jpg", "good_gray.jpg"}
	type job struct {
		data, want []byte
		opts       Options
		stride     int
	}
	var jobs []job
	for _, f := range files {
		j := job{data: read(t, f)}
		if f == "good_cmyk.jpg" {
			j.opts.Out = CMYK
		}
		var info Info
		j.want, info = decodeAll(t, j.data, j.opts)
		j.stride = info.OutComponents * info.OutWidth
		jobs = append(jobs, j)
	}
	bad := read(t, "good_420.jpg")
	bad = bad[:len(bad)/2]
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				j := jobs[(g+i)%len(jobs)]
				got := make([]byte, len(j.want))
				if _, err := Decode(j.data, j.opts, got, j.stride); err != nil || !bytes.Equal(got, j.want) {
					errs <- fmt.Errorf("%s on goroutine %d: %v", files[(g+i)%len(jobs)], g, err)
					return
				}
				if _, err := Decode(bad, Options{}, make([]byte, 3*157*107), 3*157); !errors.Is(err, ErrTruncated) {
					errs <- fmt.Errorf("truncated file: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// FuzzDecode checks that no input makes the binding crash or write outside
// its buffers, that a decoded image has the size OutputSize promised, and
// that the planes path agrees with the pixel path on what it accepts where
// both read the same data: greyscale and YCbCr files whose sampling
// factors divide the largest ones (libjpeg's upsampler, which the planes
// path skips, refuses other ratios).
func FuzzDecode(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		f.Add(read(f, e.Name()))
	}
	f.Add([]byte("\xff\xd8\xff\xdb\x00\x43"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(data)
		if err != nil {
			return
		}
		if h.Width <= 0 || h.Height <= 0 || h.Components <= 0 {
			t.Fatalf("header %+v without error", h)
		}
		if int64(h.Width)*int64(h.Height) > 1<<20 {
			return
		}
		var pixErr error // Decode's error at full size, to RGB
		for i, opts := range []Options{{}, {ScaleNum: 1, ScaleDenom: 4, DCT: DCTFloat, Out: Gray}, {ScaleNum: 2, ScaleDenom: 1, NoFancyUpsampling: true}} {
			w, ht := opts.OutputSize(h)
			n := 3
			if opts.Out == Gray {
				n = 1
			}
			// A guard byte after the image: it must stay untouched.
			buf := make([]byte, n*w*ht+1)
			buf[len(buf)-1] = 0xa5
			info, err := Decode(data, opts, buf[:n*w*ht], n*w)
			if buf[len(buf)-1] != 0xa5 {
				t.Fatal("Decode wrote past its buffer")
			}
			if i == 0 {
				pixErr = err
			}
			if err == nil && (info.OutWidth != w || info.OutHeight != ht || info.Header != h) {
				t.Fatalf("%+v: decoded %dx%d (%+v), OutputSize %dx%d (%+v)", opts, info.OutWidth, info.OutHeight, info.Header, w, ht, h)
			}
		}
		if h.Components <= 3 {
			var planes [3][]byte
			for c := range h.Components {
				planes[c] = make([]byte, h.Width*h.Height+1)
				planes[c][h.Width*h.Height] = 0xa5
			}
			_, err := DecodePlanes(data, Options{DCT: DCTFloat}, [3][]byte{planes[0][:h.Width*h.Height], nil, nil}, h.Width, h.Height)
			if (h.ColorSpace == Gray || h.ColorSpace == YCbCr) && integralSampling(h) && (err == nil) != (pixErr == nil) {
				t.Fatalf("%+v: DecodePlanes: %v; Decode: %v", h, err, pixErr)
			}
			DecodePlanes(data, Options{ScaleNum: 16, ScaleDenom: 8}, [3][]byte{nil, trim(planes[1]), trim(planes[2])}, h.Width, h.Height)
			for c := range h.Components {
				if planes[c][h.Width*h.Height] != 0xa5 {
					t.Fatalf("DecodePlanes wrote past plane %d", c)
				}
			}
		}
	})
}

func trim(p []byte) []byte {
	if p == nil {
		return nil
	}
	return p[:len(p)-1]
}

// integralSampling reports whether every component's sampling factors
// divide the largest ones, the ratios libjpeg's upsampler handles.
func integralSampling(h Header) bool {
	mh, mv := 0, 0
	for _, s := range h.Sampling[:min(h.Components, 4)] {
		mh, mv = max(mh, s.H), max(mv, s.V)
	}
	for _, s := range h.Sampling[:min(h.Components, 4)] {
		if s.H <= 0 || s.V <= 0 || mh%s.H != 0 || mv%s.V != 0 {
			return false
		}
	}
	return true
}
