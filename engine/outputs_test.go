package engine

import (
	"bytes"
	"context"
	"image"
	"os"
	"path/filepath"
	"testing"

	"github.com/vouchsafe/vouchsafe/derivative"
	"github.com/vouchsafe/vouchsafe/pdq"
)

// derive makes psi's visual derivative of the size a default table allows.
func derive(t testing.TB) func(image.Image) ([]byte, error) {
	t.Helper()
	enc, err := derivative.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close() })
	return func(img image.Image) ([]byte, error) { return enc.Encode(img, 4000) }
}

// Every output comes from one decode per image (the counter), and each is
// what computing it alone gives: the exact-path model hash, PDQ of the
// file, the derivative of the decoded image.
func TestRunOneDecodeAllOutputs(t *testing.T) {
	ps := photos(t)
	ps = append(ps, ps[:3]...)
	h := newTestHasher(t, Options{Batch: 3, Workers: 2, Exact: true})
	cfg := Config{Outputs: OutHash | OutPDQ | OutDerivative, Hasher: h, Derive: derive(t)}
	var recs []Record
	st, err := Run(context.Background(), cfg, files(ps), func(r Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Images != len(ps) || st.Decoded != len(ps) || st.Failed != 0 {
		t.Fatalf("stats %+v: want %d images, each decoded once, none failed", st, len(ps))
	}
	alone := runAll(t, h, ps)
	for i, r := range recs {
		if r.Err != nil || r.Seq != int64(i) || r.Path != ps[i] {
			t.Fatalf("record %d: %+v", i, r)
		}
		if d := Distance(r.Hash, alone[i].Hash); d > 2 {
			t.Errorf("%s: hash %s with every output, %s alone", ps[i], r.Hash, alone[i].Hash)
		}
		data, err := os.ReadFile(ps[i])
		if err != nil {
			t.Fatal(err)
		}
		want, q, err := pdq.FromBytes(data)
		if err != nil {
			t.Fatal(err)
		}
		d := pdq.Distance(r.PDQ, want)
		t.Logf("%-22s pdq distance %d quality %d/%d derivative %d bytes", filepath.Base(ps[i]), d, r.Quality, q, len(r.Derivative))
		if d > 0 || r.Quality != q {
			t.Errorf("%s: PDQ %s quality %d, pdq.FromBytes gives %s quality %d (distance %d)", ps[i], r.PDQ, r.Quality, want, q, d)
		}
		g, err := derivative.Decode(r.Derivative)
		if err != nil {
			t.Fatalf("%s: derivative: %v", ps[i], err)
		}
		if g.Bounds().Dx() < 16 {
			t.Errorf("%s: derivative of %v", ps[i], g.Bounds())
		}
		if n := len(photos(t)); i >= n && !bytes.Equal(r.Derivative, recs[i-n].Derivative) {
			t.Errorf("%s: derivative differs between two runs of the same file", ps[i])
		}
	}
}

// The voucher path (model hash and derivative) decodes each image once and
// gives exactly the hashes of the model alone.
func TestRunHashAndDerivative(t *testing.T) {
	ps := photos(t)
	h := newTestHasher(t, Options{Batch: 4, Workers: 2})
	var recs []Record
	st, err := Run(context.Background(), Config{Outputs: OutHash | OutDerivative, Hasher: h, Derive: derive(t)}, files(ps), func(r Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Decoded != len(ps) || st.Images != len(ps) {
		t.Fatalf("stats %+v: want %d images decoded once each", st, len(ps))
	}
	alone := runAll(t, h, ps)
	for i, r := range recs {
		if r.Err != nil || r.Hash != alone[i].Hash || len(r.Derivative) == 0 {
			t.Errorf("%s: %s %d-byte derivative %v; alone %s", ps[i], r.Hash, len(r.Derivative), r.Err, alone[i].Hash)
		}
	}
}

// A PDQ-only run needs no model.
func TestRunPDQOnly(t *testing.T) {
	ps := photos(t)
	st, err := Run(context.Background(), Config{Outputs: OutPDQ, Workers: 2}, files(append(ps, "missing.png")), func(r Record) error {
		if r.Path == "missing.png" {
			if r.Err == nil {
				t.Errorf("missing.png: no error")
			}
			return nil
		}
		if r.Err != nil || r.Quality == 0 {
			t.Errorf("%s: %v quality %d", r.Path, r.Err, r.Quality)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Images != len(ps)+1 || st.Failed != 1 || st.Decoded != len(ps) {
		t.Fatalf("stats %+v", st)
	}
}
