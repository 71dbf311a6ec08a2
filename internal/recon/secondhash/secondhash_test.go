package secondhash

import (
	"bytes"
	"errors"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vouchsafe/vouchsafe/derivative"
	"github.com/vouchsafe/vouchsafe/internal/eval"
	"github.com/vouchsafe/vouchsafe/pdq"
	"github.com/vouchsafe/vouchsafe/psi"
)

var photoDir = filepath.Join("..", "..", "..", "testdata", "photos")

type photo struct {
	name  string
	img   image.Image
	hash  pdq.Hash // of the image
	dhash pdq.Hash // of its derivative
}

func loadPhotos(t testing.TB, enc *derivative.Encoder) []photo {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(photoDir, "*"))
	var ps []photo
	for _, p := range paths {
		if !strings.HasSuffix(p, ".png") && !strings.HasSuffix(p, ".jpg") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		h, _, err := pdq.FromImage(img)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		dh, _, err := DerivativeHash(enc, img, psi.DefaultParams)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		ps = append(ps, photo{filepath.Base(p), img, h, dh})
	}
	if len(ps) < 10 {
		t.Fatalf("only %d photos in %s", len(ps), photoDir)
	}
	return ps
}

// revealedWith makes the visual derivative a client would send for img, as
// `vouchsafe voucher --images` does, and wraps it in a revealed match.
func revealedWith(t testing.TB, enc *derivative.Encoder, img image.Image) *psi.RevealedMatch {
	t.Helper()
	p := psi.DefaultParams
	d, err := enc.Encode(img, p.MaxDerivative())
	if err != nil {
		t.Fatal(err)
	}
	ad := make([]byte, p.ADLen)
	ad[0], ad[1] = byte(len(d)>>8), byte(len(d))
	copy(ad[2+psi.HashSize:], d)
	m := &psi.RevealedMatch{AD: ad}
	if _, err := decode(m); err != nil {
		t.Fatalf("test derivative does not decode: %v", err)
	}
	return m
}

// TestDerivativeConfirms checks the second hash on the CC0 photos: the
// derivative of a photo, and of its edited copies (the client's copy of a
// database image is rarely byte-identical), confirms the photo's database
// hash, and never confirms another photo's. The database list holds the
// photos' derivative hashes (DerivativeHash); the distances to the hashes of
// the full images are logged beside them, to show why.
func TestDerivativeConfirms(t *testing.T) {
	enc, err := derivative.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	ps := loadPhotos(t, enc)
	hs := make([]pdq.Hash, len(ps))
	for i, p := range ps {
		hs[i] = p.dhash
	}
	// must: the edits after which the derivative has to confirm. A 2 % crop
	// and a text overlay move PDQ itself beyond its match distance on some
	// photos (brick: 44 and 72 bits), so those are logged, not required.
	edits := map[string]bool{"jpeg75": true, "scale1/2": true, "crop2%": false, "text": false}
	var trs []eval.Transform
	for _, tr := range eval.Transforms() {
		if edits[tr.Name] {
			trs = append(trs, tr)
		}
	}
	var pos, neg, posFull []int
	for i, p := range ps {
		// The database holds every photo but p for the negative: the
		// nearest of the others.
		others := append(append([]pdq.Hash{}, hs[:i]...), hs[i+1:]...)
		lo, _ := New(others)
		own, _ := New([]pdq.Hash{p.dhash})
		full, _ := New([]pdq.Hash{p.hash})
		imgs := []image.Image{p.img}
		names := []string{"original"}
		must := []bool{true}
		for _, tr := range trs {
			b, err := tr.Apply(p.img)
			if err != nil {
				t.Fatal(err)
			}
			m, _, err := image.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			imgs, names, must = append(imgs, m), append(names, tr.Name), append(must, edits[tr.Name])
		}
		for k, img := range imgs {
			m := revealedWith(t, enc, img)
			v := own.Check(m)
			if v.Error != "" {
				t.Fatalf("%s %s: %s", p.name, names[k], v.Error)
			}
			w := lo.Check(m)
			f := full.Check(m)
			t.Logf("%-22s %-9s own %3d  nearest other %3d  quality %3d  (full-image PDQ %3d)", p.name, names[k], v.Distance, w.Distance, v.Quality, f.Distance)
			pos, neg, posFull = append(pos, v.Distance), append(neg, w.Distance), append(posFull, f.Distance)
			if must[k] && !v.Confirmed {
				t.Errorf("%s %s: derivative at distance %d from its own PDQ hash, not confirmed (threshold %d)", p.name, names[k], v.Distance, v.Threshold)
			}
			if w.Confirmed || w.Distance <= 2*w.Threshold {
				t.Errorf("%s %s: derivative at distance %d from another photo's: within twice the threshold", p.name, names[k], w.Distance)
			}
		}
	}
	sort.Ints(pos)
	sort.Ints(neg)
	sort.Ints(posFull)
	t.Logf("positives: n=%d median %d max %d (against full-image PDQ: median %d max %d); negatives: n=%d min %d median %d",
		len(pos), pos[len(pos)/2], pos[len(pos)-1], posFull[len(posFull)/2], posFull[len(posFull)-1], len(neg), neg[0], neg[len(neg)/2])
}

func TestCheckWithoutDerivative(t *testing.T) {
	l, _ := New([]pdq.Hash{{1}})
	ad := make([]byte, psi.DefaultParams.ADLen)
	v := l.Check(&psi.RevealedMatch{AD: ad})
	if v.Confirmed || v.Distance != -1 || !strings.Contains(v.Error, ErrNoDerivative.Error()) {
		t.Fatalf("match without a derivative: %+v", v)
	}
	// A derivative that claims more bytes than the associated data holds.
	ad[0], ad[1] = 0xff, 0xff
	if v := l.Check(&psi.RevealedMatch{AD: ad}); v.Confirmed || v.Error == "" {
		t.Fatalf("bad length: %+v", v)
	}
	if v := l.Check(&psi.RevealedMatch{AD: nil}); v.Confirmed || v.Error == "" {
		t.Fatalf("empty AD: %+v", v)
	}
}

func TestParse(t *testing.T) {
	a := strings.Repeat("0", 63) + "1"
	b := strings.Repeat("f", 64)
	in := "# database PDQ hashes\n\n" + a + ",100,img1.jpg\n" +
		`{"path":"x.jpg","hash":"` + b + `","quality":90}` + "\n" +
		`{"path":"bad.jpg","error":"truncated"}` + "\nhash,quality\n"
	l, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 2 || l.Threshold() != DefaultThreshold {
		t.Fatalf("Len %d, Threshold %d", l.Len(), l.Threshold())
	}
	hb, _ := pdq.ParseHash(b)
	if i, d := l.Nearest(hb); i != 1 || d != 0 {
		t.Fatalf("Nearest = %d, %d", i, d)
	}
	ha, _ := pdq.ParseHash(a)
	ha[31] ^= 0x06 // two bits off a
	if i, d := l.Nearest(ha); i != 0 || d != 2 {
		t.Fatalf("Nearest = %d, %d", i, d)
	}
	if _, err := l.WithThreshold(pdq.Bits); err == nil {
		t.Fatal("threshold 256 accepted")
	}
	l2, err := l.WithThreshold(1)
	if err != nil || l2.Threshold() != 1 || l.Threshold() != DefaultThreshold {
		t.Fatal("WithThreshold")
	}
}

func TestParseFail(t *testing.T) {
	for name, in := range map[string]string{
		"empty":        "",
		"comments":     "# nothing\n\n",
		"short":        "abcd\n",
		"not hex":      strings.Repeat("g", 64) + "\n",
		"bad json":     "{\"hash\":\n",
		"json no hash": `{"path":"a"}` + "\n",
		"long line":    strings.Repeat("a", MaxLine+1) + "\n",
	} {
		l, err := Parse(strings.NewReader(in))
		if err == nil {
			t.Errorf("%s: accepted (%d hashes)", name, l.Len())
		}
	}
	if _, err := Parse(strings.NewReader("")); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty: %v, want ErrEmpty", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(strings.Repeat("a", 64) + "\n"))
	f.Add([]byte(`{"hash":"` + strings.Repeat("0", 64) + `"}`))
	f.Add([]byte("# x\n\nhash\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse(bytes.NewReader(b))
		if err != nil {
			return
		}
		if l.Len() == 0 {
			t.Fatal("empty list without error")
		}
		l.Nearest(pdq.Hash{})
	})
}

func BenchmarkNearest(b *testing.B) {
	hs := make([]pdq.Hash, 1<<16)
	for i := range hs {
		for j := range hs[i] {
			hs[i][j] = byte(i*31 + j*17 + i>>8)
		}
	}
	l, _ := New(hs)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.Nearest(pdq.Hash{byte(i)})
	}
}
