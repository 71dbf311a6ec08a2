package eval

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vouchsafe/vouchsafe/pdq"
)

func loadPhotos(t testing.TB) []Photo {
	paths, _ := filepath.Glob("../../testdata/photos/*")
	sort.Strings(paths)
	var ps []Photo
	for _, p := range paths {
		if strings.HasSuffix(p, ".md") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// The larger photos (over 512×512) are left out to keep the
		// test fast on CI's two cores.
		cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width*cfg.Height > 512*512 {
			continue
		}
		ps = append(ps, Photo{Name: filepath.Base(p), Data: b})
	}
	if len(ps) < 5 {
		t.Skipf("only %d photos in testdata/photos", len(ps))
	}
	return ps
}

func TestThreshold(t *testing.T) {
	hist := []int{0, 0, 1, 0, 3, 6}
	if got := thresholdAt(hist, 10, 0.1); got != 3 {
		t.Errorf("threshold %d, want 3", got)
	}
	if got := thresholdAt(hist, 10, 0.05); got != 1 {
		t.Errorf("threshold %d, want 1", got)
	}
	if got := thresholdAt([]int{1, 0}, 10, 0.05); got != -1 {
		t.Errorf("threshold %d, want -1", got)
	}
	if r := recallAt([]int{1, 2, 3}, 6, 1); r != 0.5 {
		t.Errorf("recall %v", r)
	}
	if r := recallAt([]int{1, 2, 3}, 6, -1); r != 0 {
		t.Errorf("recall %v", r)
	}
}

// TestPDQReport runs the whole evaluation with PDQ on the sample photos,
// checks that the numbers are sane and reproducible, and writes the three
// formats.
func TestPDQReport(t *testing.T) {
	photos := loadPhotos(t)
	ts := Transforms()
	if len(ts) != 18 {
		t.Fatalf("%d transforms, want 18", len(ts))
	}
	rep, err := Run(photos, []Hasher{PDQ{}}, ts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 0 {
		t.Errorf("skipped: %v", rep.Skipped)
	}
	h := rep.Hashers[0]
	n := len(rep.Photos)
	if h.NegativePairs != n*(n-1)/2 {
		t.Errorf("%d negative pairs for %d photos", h.NegativePairs, n)
	}
	byName := map[string]*TransformReport{}
	for _, tr := range h.Transforms {
		byName[tr.Name] = tr
		if tr.Pairs+tr.Failed != n {
			t.Errorf("%s: %d pairs + %d failed != %d", tr.Name, tr.Pairs, tr.Failed, n)
		}
	}
	// PDQ is robust to mild JPEG and downscaling, not to a mirror image.
	if r := byName["jpeg90"].Recall[0]; r < 0.9 {
		t.Errorf("jpeg90 recall %v", r)
	}
	if m := byName["jpeg90"].Mean; m > byName["jpeg30"].Mean {
		t.Errorf("jpeg90 mean %v > jpeg30 mean %v", m, byName["jpeg30"].Mean)
	}
	if m := byName["flip"].Mean; m < 64 {
		t.Errorf("flip mean distance %v: PDQ should not be flip-invariant", m)
	}
	t.Logf("PDQ, %d photos, threshold at FPR 1e-3: %d bits\n%s", n, h.Thresholds[0], rep.Headline())

	// Reproducible: a second run gives the same JSON.
	// (on a subset, for time).
	sub := []Transform{ts[3], ts[10], ts[14], ts[17]}
	ra, err := Run(photos[:4], []Hasher{PDQ{}}, sub)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := Run(photos[:4], []Hasher{PDQ{}}, sub)
	var ja, jb bytes.Buffer
	ra.WriteJSON(&ja)
	rb.WriteJSON(&jb)
	if !bytes.Equal(ja.Bytes(), jb.Bytes()) {
		t.Error("two runs differ")
	}
	var j1, c, html bytes.Buffer
	rep.WriteJSON(&j1)
	var back Report
	if err := json.Unmarshal(j1.Bytes(), &back); err != nil || len(back.Hashers) != 1 {
		t.Errorf("JSON: %v", err)
	}
	if err := rep.WriteCSV(&c); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(c.String(), "\n"); lines != 1+1+len(ts) {
		t.Errorf("CSV has %d lines", lines)
	}
	if err := rep.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	s := html.String()
	if strings.Count(s, "<svg") != len(ts)+1 || strings.Contains(s, "http://") && !strings.Contains(s, "xmlns=\"http://www.w3.org/2000/svg\"") || strings.Contains(s, "<script") {
		t.Errorf("HTML: %d svg", strings.Count(s, "<svg"))
	}
}

func TestTransformsDeterministic(t *testing.T) {
	photos := loadPhotos(t)
	img, err := decodeForTest(photos[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	rgba := toRGBA(img)
	before := append([]uint8(nil), rgba.Pix...)
	for _, tr := range Transforms() {
		a, err1 := tr.Apply(rgba)
		if !bytes.Equal(rgba.Pix, before) {
			t.Fatalf("%s modified its input", tr.Name)
		}
		b, err2 := tr.Apply(img)
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: not deterministic (%v %v)", tr.Name, err1, err2)
		}
	}
}

func decodeForTest(b []byte) (interface {
	Bounds() image.Rectangle
	ColorModel() color.Model
	At(x, y int) color.Color
}, error) {
	return pdq.Decode(b)
}

func TestShrink(t *testing.T) {
	data, err := os.ReadFile("../../testdata/photos/retina.jpg") // 1411×1411
	if err != nil {
		t.Fatal(err)
	}
	big := Photo{Name: "retina.jpg", Data: data}
	s, err := Shrink(big, 500)
	if err != nil {
		t.Fatal(err)
	}
	img, err := pdq.Decode(s.Data)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 500 || b.Dy() != 500 || s.Name != big.Name {
		t.Fatalf("shrunk to %v named %q", b, s.Name)
	}
	// The hashes barely move: the engine and PDQ scale far below 500 px.
	h0, _, _ := pdq.FromBytes(big.Data)
	h1, _, _ := pdq.FromBytes(s.Data)
	if d := pdq.Distance(h0, h1); d > 16 {
		t.Errorf("PDQ moved %d bits after Shrink", d)
	}
	// Small enough already: unchanged bytes.
	if s2, err := Shrink(big, 2000); err != nil || !bytes.Equal(s2.Data, big.Data) {
		t.Fatalf("Shrink re-encoded a small photo (err %v)", err)
	}
	if _, err := Shrink(Photo{Name: "junk", Data: []byte("junk")}, 100); err == nil || !strings.Contains(err.Error(), "junk") {
		t.Fatalf("junk: %v", err)
	}
	if _, err := Shrink(big, 0); err == nil {
		t.Fatal("max side 0 accepted")
	}
}

// TestPDQHashPerImage checks the pool of PDQ.Hash: one result per image,
// in order, the same as pdq.FromBytes on each, a bad image an error of its
// own; buffers reused between images must not leak into the next hash.
func TestPDQHashPerImage(t *testing.T) {
	photos := loadPhotos(t)
	var images [][]byte
	for i, p := range photos {
		images = append(images, p.Data)
		if i%2 == 0 {
			images = append(images, []byte("not an image"))
		}
	}
	got, errs := PDQ{}.Hash(images)
	if len(got) != len(images) || len(errs) != len(images) {
		t.Fatalf("%d hashes and %d errors for %d images", len(got), len(errs), len(images))
	}
	for i, b := range images {
		want, _, err := pdq.FromBytes(b)
		if (err != nil) != (errs[i] != nil) {
			t.Fatalf("image %d: error %v, want %v", i, errs[i], err)
		}
		if err == nil && !bytes.Equal(got[i], want[:]) {
			t.Fatalf("image %d: hash %x, want %x", i, got[i], want)
		}
	}
}
