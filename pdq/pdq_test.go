package pdq

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// vector is one of Meta's regression images with the hash Meta's C++
// pdq-photo-hasher prints for it and the hash Meta's Python port computes
// (from ThreatExchange pdq/python/pdqhashing/tests/pdq_test.py).
type vector struct {
	path        string
	cpp, python Hash
	pythonDist  int
}

func loadVectors(t testing.TB) []vector {
	f, err := os.Open("testdata/good_vectors.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	for _, rec := range recs {
		v := vector{path: rec[0]}
		if v.cpp, err = ParseHash(rec[1]); err != nil {
			t.Fatal(err)
		}
		if v.python, err = ParseHash(rec[2]); err != nil {
			t.Fatal(err)
		}
		if v.pythonDist, err = strconv.Atoi(rec[3]); err != nil {
			t.Fatal(err)
		}
		if d := Distance(v.cpp, v.python); d != v.pythonDist {
			t.Fatalf("%s: python distance column says %d, hashes differ by %d", v.path, v.pythonDist, d)
		}
		vs = append(vs, v)
	}
	if len(vs) != 15 {
		t.Fatalf("got %d vectors, want 15", len(vs))
	}
	return vs
}

func readImage(t testing.TB, path string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodePure decodes with the standard library only (image/jpeg and this
// package's libjpeg-style chroma upsampling), as builds without cgo do.
func decodePure(t testing.TB, data []byte) image.Image {
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// goNative hides the concrete type so that hashing takes image.Image's
// generic path (Go's nearest-neighbour chroma, Go's YCbCr conversion).
type goNative struct{ image.Image }

// TestReferenceVectors hashes every regression image and compares with
// Meta's C++ hashes. Meta's Python port is 0 to 10 bits away from them (64
// in total); PDQ's match threshold is 31. Images whose quality is below 50
// (q0003 and q0004, nearly flat) have unstable hashes in every
// implementation: Meta's own Python test allows 16 bits there. The bound on
// the total is what each decoding path achieves today (see the log), so a
// change that moves the hashes away from Meta's fails here.
func TestReferenceVectors(t *testing.T) {
	var h Hasher
	sum, sumPy, sumPure, sumNative, wins, ties, losses := 0, 0, 0, 0, 0, 0, 0
	for _, v := range loadVectors(t) {
		data := readImage(t, v.path)
		img, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		got, q, err := h.Hash(img)
		if err != nil {
			t.Fatal(err)
		}
		pure := decodePure(t, data)
		hp, qp, err := h.Hash(pure)
		if err != nil {
			t.Fatal(err)
		}
		hn, _, err := h.Hash(goNative{pure})
		if err != nil {
			t.Fatal(err)
		}
		d, dp, dn := Distance(got, v.cpp), Distance(hp, v.cpp), Distance(hn, v.cpp)
		sum += d
		sumPy += v.pythonDist
		sumPure += dp
		sumNative += dn
		switch {
		case d < v.pythonDist:
			wins++
		case d == v.pythonDist:
			ties++
		default:
			losses++
		}
		t.Logf("%-30s quality %3d  distance to C++ %2d (Python port %2d; ours to Python port %2d)  pure-Go decode %2d (quality %+d)  Go's own chroma %2d",
			v.path, q, d, v.pythonDist, Distance(got, v.python), dp, qp-q, dn)
		limit := 10 // the Python port's largest distance on these images
		if q < 50 {
			limit = 16
		}
		if d > limit || dp > limit {
			t.Errorf("%s: distance %d (pure-Go decode %d) to Meta's C++ hash, want at most %d", v.path, d, dp, limit)
		}
		if q < 0 || q > 100 {
			t.Errorf("%s: quality %d out of range", v.path, q)
		}
	}
	t.Logf("total distance to C++: ours %d (libjpeg-turbo decode: %v), pure-Go decode %d, Go's own chroma %d, Meta's Python port %d; ours closer than the Python port on %d images, equal on %d, further on %d",
		sum, turboJPEG, sumPure, sumNative, sumPy, wins, ties, losses)
	// The requirement: at least as close to Meta's C++ hashes as Meta's own
	// Python port, in total, when decoding as the C++ tool does.
	if turboJPEG && sum > sumPy {
		t.Errorf("total %d with libjpeg, further from C++ than Meta's Python port (%d)", sum, sumPy)
	}
	if turboJPEG && sum > 48 {
		t.Errorf("total %d with libjpeg, was 48", sum)
	}
	if sumPure > 74 {
		t.Errorf("total %d with the pure-Go decoder, was 74", sumPure)
	}
	if sumPure >= sumNative {
		t.Errorf("libjpeg-style chroma (%d) should beat Go's own (%d) in total", sumPure, sumNative)
	}
}

// TestDihedralVectors checks the eight hashes derived from bridge-1 against
// Meta's C++ hashes of the seven transformed files: the derived hash of a
// transform must match the hash of the transformed image.
func TestDihedralVectors(t *testing.T) {
	vs := loadVectors(t)
	byName := map[string]Hash{}
	for _, v := range vs {
		byName[v.path] = v.cpp
	}
	files := [8]string{"original", "rotate-90", "rotate-180", "rotate-270", "flipx", "flipy", "flip-plus-1", "flip-minus-1"}
	img, err := Decode(readImage(t, "dih/bridge-1-original.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	hs, q, err := Dihedral(img)
	if err != nil {
		t.Fatal(err)
	}
	plain, q2, _ := FromImage(img)
	if hs[Original] != plain || q != q2 {
		t.Errorf("Dihedral original %v q%d, FromImage %v q%d", hs[Original], q, plain, q2)
	}
	for tr := Original; tr <= FlipMinus1; tr++ {
		path := "dih/bridge-" + strconv.Itoa(int(tr)+1) + "-" + files[tr] + ".jpg"
		want, ok := byName[path]
		if !ok {
			t.Fatalf("no vector %s", path)
		}
		d := Distance(hs[tr], want)
		// The nearest other transform, to show the match is specific.
		other := Bits
		for u := Original; u <= FlipMinus1; u++ {
			if u != tr {
				other = min(other, Distance(hs[u], want))
			}
		}
		t.Logf("%-10s derived from bridge-1 vs C++ hash of %s: %2d bits (nearest other transform %d)", tr, path, d, other)
		if d > 16 || other <= MatchThreshold {
			t.Errorf("%s: distance %d (other transforms from %d)", tr, d, other)
		}
	}
}

func TestHashText(t *testing.T) {
	const s = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22"
	h, err := ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	if h.String() != s {
		t.Errorf("round trip: %s", h)
	}
	if u, err := ParseHash("F8F8F0CCE0F4E84D0E370A22028F67F0B36E2ED596623E1D33E6339C4E9C9B22"); err != nil || u != h {
		t.Errorf("upper case: %v %v", u, err)
	}
	// Meta's layout: bit 0 is the low bit of the last hex digit, bit 255
	// the high bit of the first.
	if !h.Bit(1) || h.Bit(0) || !h.Bit(255) || h.Bit(-1) || h.Bit(256) {
		t.Errorf("bit layout wrong")
	}
	var one Hash
	one.setBit(0)
	if one.String() != "0000000000000000000000000000000000000000000000000000000000000001" {
		t.Errorf("bit 0 is %s", one)
	}
	one = Hash{}
	one.setBit(17) // word 1, bit 1 of the reference's uint16 words
	if one.String() != "0000000000000000000000000000000000000000000000000000000000020000" {
		t.Errorf("bit 17 is %s", one)
	}
	b, err := json.Marshal(map[string]Hash{"h": h})
	if err != nil || string(b) != `{"h":"`+s+`"}` {
		t.Errorf("json: %s %v", b, err)
	}
	var m map[string]Hash
	if err := json.Unmarshal(b, &m); err != nil || m["h"] != h {
		t.Errorf("json back: %v %v", m, err)
	}
	for _, bad := range []string{"", s[:63], s + "0", "g" + s[1:], " " + s[1:], s[:62] + "-1"} {
		if _, err := ParseHash(bad); !errors.Is(err, ErrHashSyntax) {
			t.Errorf("ParseHash(%q) = %v, want ErrHashSyntax", bad, err)
		}
	}
	if Distance(h, h) != 0 || Distance(Hash{}, Hash{0xff, 0x01}) != 9 {
		t.Error("Distance")
	}
	var all Hash
	for i := range all {
		all[i] = 0xff
	}
	if Distance(Hash{}, all) != 256 {
		t.Error("Distance all")
	}
}

func TestErrors(t *testing.T) {
	small := image.NewGray(image.Rect(0, 0, 4, 100))
	if _, _, err := FromImage(small); !errors.Is(err, ErrTooSmall) {
		t.Errorf("4×100: %v", err)
	}
	if _, _, err := FromImage(nil); !errors.Is(err, ErrTooSmall) {
		t.Errorf("nil: %v", err)
	}
	if _, _, err := FromBytes([]byte("not an image")); err == nil {
		t.Error("garbage decoded")
	}
	// A PNG header claiming 100000×100000 pixels is refused before decoding.
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	copy(b[16:24], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	binary.BigEndian.PutUint32(b[29:33], crc32.ChecksumIEEE(b[12:29]))
	if _, _, err := FromBytes(b); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge PNG: %v", err)
	}
}

// TestProperties checks behaviour that holds for any correct PDQ: exactly
// 128 bits set for an image with distinct DCT coefficients, a flat image
// has quality 0, the four pixel layouts agree, the hash survives mild JPEG
// recompression, and a mirrored image hashes close to the derived FlipY.
func TestProperties(t *testing.T) {
	img := synth(300, 200, 1)
	var h Hasher
	hash, q, err := h.Hash(img)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k := 0; k < Bits; k++ {
		if hash.Bit(k) {
			n++
		}
	}
	if n != 128 {
		t.Errorf("%d bits set, want 128", n)
	}
	if q < 50 {
		t.Errorf("quality of a textured image %d", q)
	}
	flat := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range flat.Pix {
		flat.Pix[i] = 77
	}
	if _, fq, _ := h.Hash(flat); fq != 0 {
		t.Errorf("flat quality %d", fq)
	}
	// Same pixels in NRGBA, RGBA and through the generic path.
	rgba := image.NewRGBA(img.Bounds())
	for i := range img.Pix {
		rgba.Pix[i] = img.Pix[i]
	}
	for name, m := range map[string]image.Image{"rgba": rgba, "generic": goNative{img}} {
		if g, gq, _ := h.Hash(m); g != hash || gq != q {
			t.Errorf("%s: %v q%d, want %v q%d", name, g, gq, hash, q)
		}
	}
	// Grey: the reference takes grey samples as luminance.
	gray := image.NewGray(img.Bounds())
	for i := range gray.Pix {
		gray.Pix[i] = img.Pix[4*i]
	}
	gn := image.NewNRGBA(img.Bounds())
	for i := range gray.Pix {
		gn.Pix[4*i], gn.Pix[4*i+1], gn.Pix[4*i+2], gn.Pix[4*i+3] = gray.Pix[i], gray.Pix[i], gray.Pix[i], 255
	}
	g1, _, _ := h.Hash(gray)
	g2, _, _ := h.Hash(gn)
	if d := Distance(g1, g2); d > 4 {
		t.Errorf("grey vs grey RGB: %d bits", d)
	}
	// JPEG quality 90 round trip: the decoded YCbCr path.
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	j, _, err := h.HashBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if d := Distance(j, hash); d > 20 {
		t.Errorf("JPEG q90: %d bits", d)
	}
	// Mirror left-right: the real mirrored image vs the derived FlipY.
	mir := image.NewNRGBA(img.Bounds())
	w := img.Bounds().Dx()
	for y := 0; y < img.Bounds().Dy(); y++ {
		for x := 0; x < w; x++ {
			copy(mir.Pix[y*mir.Stride+4*x:y*mir.Stride+4*x+4], img.Pix[y*img.Stride+4*(w-1-x):])
		}
	}
	dh, _, _ := h.Dihedral(img)
	mh, _, _ := h.Hash(mir)
	if d := Distance(dh[FlipY], mh); d > 16 {
		t.Errorf("mirror vs derived FlipY: %d bits", d)
	}
	if d := Distance(dh[Original], mh); d < 64 {
		t.Errorf("mirror vs original: only %d bits", d)
	}
	// Unrelated images are far apart.
	other, _, _ := h.Hash(synth(300, 200, 2))
	if d := Distance(other, hash); d < 64 {
		t.Errorf("unrelated images %d bits apart", d)
	}
}

// synth draws a deterministic smooth textured image.
func synth(w, h int, seed uint64) *image.NRGBA {
	rng := rand.New(rand.NewPCG(seed, 7))
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	type blob struct {
		x, y, r float64
		c       [3]float64
	}
	bs := make([]blob, 12)
	for i := range bs {
		bs[i] = blob{rng.Float64() * float64(w), rng.Float64() * float64(h), 20 + rng.Float64()*60,
			[3]float64{rng.Float64() * 255, rng.Float64() * 255, rng.Float64() * 255}}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := [3]float64{40, 40, 40}
			for _, b := range bs {
				dx, dy := float64(x)-b.x, float64(y)-b.y
				if dx*dx+dy*dy < b.r*b.r {
					c = b.c
				}
			}
			m.SetNRGBA(x, y, color.NRGBA{uint8(c[0]), uint8(c[1]), uint8(c[2]), 255})
		}
	}
	return m
}

func TestTransformString(t *testing.T) {
	if Rotate90.String() != "rotate90" || FlipMinus1.String() != "flipminus1" || Transform(9).String() != "Transform(9)" {
		t.Error("Transform.String")
	}
}

func TestNoAllocs(t *testing.T) {
	img, err := Decode(readImage(t, "labelme-subset/q0291.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	var h Hasher
	h.Hash(img)
	if n := testing.AllocsPerRun(5, func() { h.Hash(img) }); n != 0 {
		t.Errorf("Hash allocates %v times per call", n)
	}
}

func FuzzParseHash(f *testing.F) {
	f.Add("f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22")
	f.Add("F8F8")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHash(s)
		if err != nil {
			return
		}
		h2, err := ParseHash(h.String())
		if err != nil || h2 != h {
			t.Fatalf("round trip %q: %v %v", s, h2, err)
		}
	})
}

func FuzzHashBytes(f *testing.F) {
	f.Add(readImage(f, "labelme-subset/q0003.jpg"))
	var buf bytes.Buffer
	png.Encode(&buf, synth(16, 9, 3))
	f.Add(buf.Bytes())
	f.Add([]byte("GIF89a"))
	var h Hasher
	f.Fuzz(func(t *testing.T, b []byte) {
		// Keep each input cheap: headers claiming more than 4 MP are
		// left to TestErrors' size check.
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(b)); err == nil && cfg.Width*cfg.Height > 4<<20 {
			return
		}
		hash, q, err := h.HashBytes(b)
		if err != nil {
			return
		}
		if q < 0 || q > 100 {
			t.Fatalf("quality %d", q)
		}
		// Hashing is deterministic and a fresh Hasher agrees.
		h2, q2, err := FromBytes(b)
		if err != nil || h2 != hash || q2 != q {
			t.Fatalf("second hash differs: %v %v", h2, err)
		}
	})
}

// TestOwnHashes pins this package's own output on the regression images
// (hash, quality and the derived FlipY hash) for this build's JPEG decoder,
// so that optimisations cannot change a single bit unnoticed.
func TestOwnHashes(t *testing.T) {
	name := "testdata/good_go_hashes_purego.csv"
	if turboJPEG {
		name = "testdata/good_go_hashes_cgo.csv"
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 15 {
		t.Fatalf("%d records", len(recs))
	}
	var h Hasher
	for _, rec := range recs {
		img, err := Decode(readImage(t, rec[0]))
		if err != nil {
			t.Fatal(err)
		}
		d, q, err := h.Dihedral(img)
		if err != nil {
			t.Fatal(err)
		}
		if d[Original].String() != rec[1] || strconv.Itoa(q) != rec[2] || d[FlipY].String() != rec[3] {
			t.Errorf("%s: got %s q%d flipy %s, want %s q%s flipy %s", rec[0], d[Original], q, d[FlipY], rec[1], rec[2], rec[3])
		}
	}
}

// TestJavaPort compares with the hashes Meta's Java port asserts in its own
// test: like this package, and unlike the C++ tool's later versions, it
// hashes at full size. Both ports are the same distance from the C++
// hashes on these images, so the remaining gap is the C++ tool's decoding.
func TestJavaPort(t *testing.T) {
	f, err := os.Open("testdata/good_java.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	recs, err := r.ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	cpp := map[string]Hash{}
	for _, v := range loadVectors(t) {
		cpp[v.path] = v.cpp
	}
	for _, rec := range recs {
		java, err := ParseHash(rec[1])
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := FromBytes(readImage(t, rec[0]))
		if err != nil {
			t.Fatal(err)
		}
		d := Distance(got, java)
		t.Logf("%-28s distance to Meta's Java port %d; to C++: ours %d, Java port %d", rec[0], d, Distance(got, cpp[rec[0]]), Distance(java, cpp[rec[0]]))
		if d > 2 {
			t.Errorf("%s: %d bits from Meta's Java port", rec[0], d)
		}
	}
}

// TestHalfSize mirrors Meta's Java test: bridge-1 at half size (every other
// pixel) hashes within a few bits of the original (4 bits there).
func TestHalfSize(t *testing.T) {
	img, err := Decode(readImage(t, "dih/bridge-1-original.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	r := img.Bounds()
	w, h := r.Dx()/2, r.Dy()/2
	half := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBAModel.Convert(img.At(r.Min.X+2*x, r.Min.Y+2*y)).(color.NRGBA)
			half.SetNRGBA(x, y, c)
		}
	}
	h0, _, _ := FromImage(img)
	h1, _, err := FromImage(half)
	if err != nil {
		t.Fatal(err)
	}
	d := Distance(h0, h1)
	t.Logf("bridge-1 at half size: %d bits", d)
	if d > 8 {
		t.Errorf("half size moved %d bits", d)
	}
}
