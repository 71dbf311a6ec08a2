package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/image/draw"

	"github.com/vouchsafe/vouchsafe/internal/ort"
	"github.com/vouchsafe/vouchsafe/internal/ort/orttest"
)

var photoDir = filepath.Join("..", "testdata", "photos")

// requireORT skips when this build or machine cannot run ONNX Runtime (make
// test fetches it; under CI=true a missing library fails).
func requireORT(t testing.TB) {
	t.Helper()
	orttest.Library(t)
}

// newTestHasher opens a model on the CPU. The default model runs in pure Go
// in a build without cgo; anything else needs ONNX Runtime.
func newTestHasher(t testing.TB, o Options) *Hasher {
	t.Helper()
	if ort.Available || (o.Model != "" && o.Model != "default") {
		requireORT(t)
	}
	h, err := NewHasher(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func photos(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir(photoDir)
	if err != nil {
		t.Fatal(err)
	}
	var ps []string
	for _, e := range ents {
		if ext := filepath.Ext(e.Name()); ext == ".png" || ext == ".jpg" {
			ps = append(ps, filepath.Join(photoDir, e.Name()))
		}
	}
	if len(ps) < 5 {
		t.Fatalf("only %d sample photos in %s", len(ps), photoDir)
	}
	return ps
}

// files yields one Input per path.
func files(paths []string) iter.Seq[Input] {
	return func(yield func(Input) bool) {
		for _, p := range paths {
			if !yield(Input{Path: p}) {
				return
			}
		}
	}
}

func runAll(t testing.TB, h *Hasher, paths []string) []Record {
	t.Helper()
	var recs []Record
	if _, err := h.Run(context.Background(), files(paths), func(r Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

// Batch size and worker count never change a hash, and records come back in
// input order whatever finishes first.
func TestRunDeterministic(t *testing.T) {
	ps := photos(t)
	ps = append(ps, ps...) // more than one batch with a short tail
	var want []Record
	for _, c := range []struct{ batch, workers, streams int }{{1, 1, 1}, {3, 2, 3}, {16, 4, 1}} {
		h := newTestHasher(t, Options{Batch: c.batch, Workers: c.workers, Streams: c.streams})
		recs := runAll(t, h, ps)
		if len(recs) != len(ps) {
			t.Fatalf("batch %d: %d records for %d inputs", c.batch, len(recs), len(ps))
		}
		for i, r := range recs {
			if r.Path != ps[i] || r.Seq != int64(i) || r.Err != nil {
				t.Fatalf("batch %d: record %d = %+v, want %s", c.batch, i, r, ps[i])
			}
		}
		if want == nil {
			want = recs
			continue
		}
		for i := range recs {
			if recs[i].Hash != want[i].Hash || recs[i].Width != want[i].Width {
				t.Fatalf("batch %d workers %d: %s hashed %s, batch 1 gave %s", c.batch, c.workers, ps[i], recs[i].Hash, want[i].Hash)
			}
		}
	}
}

// Bad inputs get an error record naming the file; the others are still hashed.
func TestRunBadInputs(t *testing.T) {
	dir := t.TempDir()
	good := photos(t)[0]
	data, _ := os.ReadFile(good)
	files := map[string][]byte{
		"empty.jpg":                 nil,
		"text.png":                  []byte("hello"),
		"trunc.jpg":                 data[:len(data)/50],
		"junk.webp":                 bytes.Repeat([]byte{0xff, 0xd8}, 100),
		"good" + filepath.Ext(good): data,
	}
	var paths []string
	for n, b := range files {
		p := filepath.Join(dir, n)
		os.WriteFile(p, b, 0o644)
		paths = append(paths, p)
	}
	sort.Strings(paths)
	paths = append(paths, filepath.Join(dir, "missing.jpg"))
	h := newTestHasher(t, Options{Batch: 2, Workers: 2})
	recs := runAll(t, h, paths)
	failed := 0
	for _, r := range recs {
		base := filepath.Base(r.Path)
		if strings.HasPrefix(base, "good") {
			if r.Err != nil {
				t.Errorf("%s: %v", base, r.Err)
			}
			continue
		}
		if r.Err == nil {
			t.Errorf("%s: hashed as %s, want an error", base, r.Hash)
			continue
		}
		failed++
		if !strings.Contains(r.Err.Error(), base) {
			t.Errorf("%s: error %q does not name the file", base, r.Err)
		}
	}
	if failed != len(paths)-1 {
		t.Fatalf("%d failures, want %d", failed, len(paths)-1)
	}
}

// An emit error stops the run and is returned.
func TestRunEmitError(t *testing.T) {
	h := newTestHasher(t, Options{Batch: 2})
	ps := photos(t)
	stop := errors.New("disk full")
	_, err := h.Run(context.Background(), files(ps), func(Record) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("Run error = %v, want %v", err, stop)
	}
}

// variant returns the photo resized to half its size and re-encoded as JPEG q75.
func variant(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx()/2, b.Dy()/2))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 75}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The default model is a perceptual hash: a half-size JPEG q75 copy stays within
// a few bits of the original, and distinct photos are far apart.
func TestDefaultModelRobustness(t *testing.T) {
	h := newTestHasher(t, Options{})
	ps := photos(t)
	dir := t.TempDir()
	var vs []string
	for i, p := range ps {
		v := filepath.Join(dir, filepath.Base(p)+".v.jpg")
		os.WriteFile(v, variant(t, p), 0o644)
		vs = append(vs, v)
		_ = i
	}
	orig := runAll(t, h, ps)
	vars := runAll(t, h, vs)
	maxSame, minDiff := 0, HashBits
	for i := range ps {
		if orig[i].Err != nil || vars[i].Err != nil {
			t.Fatal(orig[i].Err, vars[i].Err)
		}
		d := Distance(orig[i].Hash, vars[i].Hash)
		t.Logf("%-16s %s  variant %s  distance %d", filepath.Base(ps[i]), orig[i].Hash, vars[i].Hash, d)
		maxSame = max(maxSame, d)
		for j := range i {
			minDiff = min(minDiff, Distance(orig[i].Hash, orig[j].Hash))
		}
	}
	t.Logf("max distance original/variant %d, min distance between distinct photos %d", maxSame, minDiff)
	if maxSame > 8 {
		t.Errorf("a resized, re-encoded copy moved %d bits; want at most 8", maxSame)
	}
	if minDiff < 20 {
		t.Errorf("two distinct photos are only %d bits apart; want at least 20", minDiff)
	}
}

// The fast path (DCT-domain JPEG downscaling) moves at most a bit or two
// against --exact. Set VOUCHSAFE_PHOTOS to a folder of camera JPEGs to include
// them (make bench-photos fetches some).
func TestFastPathMatchesExact(t *testing.T) {
	var jpegs []string
	for _, p := range photos(t) {
		if strings.HasSuffix(p, ".jpg") {
			jpegs = append(jpegs, p)
		}
	}
	if dir := os.Getenv("VOUCHSAFE_PHOTOS"); dir != "" {
		more, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
		jpegs = append(jpegs, more...)
	}
	for _, model := range []string{"default", "bench"} {
		fast := runAll(t, newTestHasher(t, Options{Model: model}), jpegs)
		exact := runAll(t, newTestHasher(t, Options{Model: model, Exact: true}), jpegs)
		worst, sum := 0, 0
		for i := range jpegs {
			d := Distance(fast[i].Hash, exact[i].Hash)
			t.Logf("%s %-40s %dx%d fast %s exact %s distance %d", model, filepath.Base(jpegs[i]), fast[i].Width, fast[i].Height, fast[i].Hash, exact[i].Hash, d)
			worst, sum = max(worst, d), sum+d
		}
		t.Logf("%s: %d JPEGs, mean distance %.2f, max %d", model, len(jpegs), float64(sum)/float64(len(jpegs)), worst)
		if model == "default" && worst > 2 {
			t.Errorf("fast path moved %d bits against exact; want at most 2", worst)
		}
	}
}

// In-memory images hash as the same files do.
func TestHashData(t *testing.T) {
	h := newTestHasher(t, Options{Batch: 4})
	ps := photos(t)
	want := runAll(t, h, ps)
	data := make([][]byte, len(ps)+1)
	for i, p := range ps {
		data[i], _ = os.ReadFile(p)
	}
	data[len(ps)] = []byte("junk")
	hashes, errs, err := h.HashData(context.Background(), data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ps {
		if errs[i] != nil || hashes[i] != want[i].Hash {
			t.Errorf("%s: %s, %v; file gave %s", ps[i], hashes[i], errs[i], want[i].Hash)
		}
	}
	if e := errs[len(ps)]; e == nil || !strings.Contains(e.Error(), fmt.Sprintf("image %d", len(ps))) {
		t.Errorf("junk: %v", e)
	}
}
