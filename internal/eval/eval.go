// Package eval measures perceptual hashes: how many bits a hash moves under
// common edits of a photo, and how close the hashes of different photos
// come. For every photo it generates deterministic variants (see
// Transforms), hashes originals and variants with each Hasher, and reports
// per transform the Hamming-distance distribution, the recall at the
// distance thresholds that give false-positive rates of 1e-3 and 1e-4 on the
// negatives (all pairs of distinct originals), and the collisions at
// distance 0, as JSON, CSV and a self-contained HTML page.
package eval

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/vouchsafe/vouchsafe/pdq"
)

// A Hasher hashes encoded images. Hash returns one hash (Bits()/8 bytes) or
// one error per image, in order.
type Hasher interface {
	Name() string
	Bits() int
	Hash(images [][]byte) ([][]byte, []error)
}

// Photo is one original: a name for the report and its encoded bytes.
type Photo struct {
	Name string
	Data []byte
}

// FPRs are the false-positive rates the report gives recall at.
var FPRs = [2]float64{1e-3, 1e-4}

// Report is the outcome of Run.
type Report struct {
	Photos  []string        `json:"photos"`
	Skipped []string        `json:"skipped,omitempty"` // originals that failed to decode or hash
	Hashers []*HasherReport `json:"hashers"`
}

// HasherReport holds one hasher's results.
type HasherReport struct {
	Name string `json:"name"`
	Bits int    `json:"bits"`
	// Negatives is the distance histogram (index: distance) over all pairs
	// of distinct originals.
	Negatives     []int `json:"negatives"`
	NegativePairs int   `json:"negative_pairs"`
	// MinFPR is the smallest false-positive rate the negatives can measure
	// (1/NegativePairs): below it, a threshold only means "under every
	// negative pair".
	MinFPR     float64 `json:"min_fpr"`
	Collisions int     `json:"collisions"` // negative pairs at distance 0
	// Thresholds[i] is the largest distance t whose false-positive rate
	// (negatives at distance ≤ t) is at most FPRs[i]; -1 when none is.
	Thresholds [2]int             `json:"thresholds"`
	Transforms []*TransformReport `json:"transforms"`
}

// TransformReport holds one hasher's distances between originals and one
// transform's variants.
type TransformReport struct {
	Name   string  `json:"name"`
	Pairs  int     `json:"pairs"`
	Failed int     `json:"failed"` // variants that could not be made or hashed
	Hist   []int   `json:"hist"`   // index: distance
	Mean   float64 `json:"mean"`
	Median int     `json:"median"`
	P95    int     `json:"p95"`
	Max    int     `json:"max"`
	Exact  int     `json:"exact"` // variants at distance 0 from their original
	// Recall[i] is the share of pairs at distance ≤ Thresholds[i].
	Recall [2]float64 `json:"recall"`
}

// Run evaluates hashers on photos with transforms. Photos that fail to
// decode, or that a hasher cannot hash, are left out for every hasher (and
// listed in Report.Skipped), so all hashers see the same pairs.
func Run(photos []Photo, hashers []Hasher, transforms []Transform) (*Report, error) {
	if len(hashers) == 0 {
		return nil, errors.New("eval: no hasher")
	}
	rep := &Report{}
	// Variants, per transform, per photo; nil where it failed.
	var ok []Photo
	var variants [][][]byte // [photo][transform]
	for _, p := range photos {
		img, err := pdq.Decode(p.Data)
		if err != nil {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: %v", p.Name, err))
			continue
		}
		rgba := toRGBA(img) // once, so that the transforms take draw's fast paths
		vs := make([][]byte, len(transforms))
		for i, t := range transforms {
			if b, err := t.Apply(rgba); err == nil {
				vs[i] = b
			}
		}
		ok = append(ok, p)
		variants = append(variants, vs)
	}
	// Hash originals with every hasher; drop photos any hasher fails on.
	origs := make([][][]byte, len(hashers)) // [hasher][photo]
	bad := make([]bool, len(ok))
	data := make([][]byte, len(ok))
	for i, p := range ok {
		data[i] = p.Data
	}
	for hi, h := range hashers {
		hs, errs := h.Hash(data)
		if len(hs) != len(data) || len(errs) != len(data) {
			return nil, fmt.Errorf("eval: hasher %s returned %d hashes for %d images", h.Name(), len(hs), len(data))
		}
		for i, err := range errs {
			if err != nil || len(hs[i])*8 != h.Bits() {
				if !bad[i] {
					rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: %s: %v", ok[i].Name, h.Name(), err))
				}
				bad[i] = true
			}
		}
		origs[hi] = hs
	}
	var keep []int
	for i := range ok {
		if !bad[i] {
			keep = append(keep, i)
			rep.Photos = append(rep.Photos, ok[i].Name)
		}
	}
	for hi, h := range hashers {
		hr := &HasherReport{Name: h.Name(), Bits: h.Bits(), Negatives: make([]int, h.Bits()+1)}
		for a := 0; a < len(keep); a++ {
			for b := a + 1; b < len(keep); b++ {
				d := hamming(origs[hi][keep[a]], origs[hi][keep[b]])
				hr.Negatives[d]++
				hr.NegativePairs++
			}
		}
		hr.Collisions = hr.Negatives[0]
		if hr.NegativePairs > 0 {
			hr.MinFPR = 1 / float64(hr.NegativePairs)
		}
		for i, f := range FPRs {
			hr.Thresholds[i] = thresholdAt(hr.Negatives, hr.NegativePairs, f)
		}
		for ti, t := range transforms {
			var batch [][]byte
			var from []int
			tr := &TransformReport{Name: t.Name, Hist: make([]int, h.Bits()+1)}
			for _, pi := range keep {
				if v := variants[pi][ti]; v != nil {
					batch = append(batch, v)
					from = append(from, pi)
				} else {
					tr.Failed++
				}
			}
			hs, errs := h.Hash(batch)
			if len(hs) != len(batch) || len(errs) != len(batch) {
				return nil, fmt.Errorf("eval: hasher %s returned %d hashes for %d images", h.Name(), len(hs), len(batch))
			}
			for i := range batch {
				if errs[i] != nil || len(hs[i])*8 != h.Bits() {
					tr.Failed++
					continue
				}
				tr.Hist[hamming(origs[hi][from[i]], hs[i])]++
				tr.Pairs++
			}
			tr.summarise(hr.Thresholds)
			hr.Transforms = append(hr.Transforms, tr)
		}
		rep.Hashers = append(rep.Hashers, hr)
	}
	return rep, nil
}

func hamming(a, b []byte) int {
	n := 0
	for i := range a {
		n += bits.OnesCount8(a[i] ^ b[i])
	}
	return n
}

// thresholdAt returns the largest t with (negatives at distance ≤ t)/n ≤
// fpr, or -1 when already distance 0 exceeds it. With no negatives every
// threshold passes, and the result is the largest distance.
func thresholdAt(hist []int, n int, fpr float64) int {
	t, cum := -1, 0
	for d, c := range hist {
		cum += c
		if n > 0 && float64(cum) > fpr*float64(n) {
			break
		}
		t = d
	}
	return t
}

func (tr *TransformReport) summarise(th [2]int) {
	if tr.Pairs == 0 {
		return
	}
	var ds []int
	sum := 0
	for d, c := range tr.Hist {
		for i := 0; i < c; i++ {
			ds = append(ds, d)
		}
		sum += d * c
	}
	sort.Ints(ds)
	tr.Mean = float64(sum) / float64(tr.Pairs)
	tr.Median = ds[(len(ds)-1)/2]
	tr.P95 = ds[min(len(ds)-1, (95*len(ds)+99)/100-1)]
	tr.Max = ds[len(ds)-1]
	tr.Exact = tr.Hist[0]
	for i, t := range th {
		tr.Recall[i] = recallAt(tr.Hist, tr.Pairs, t)
	}
}

func recallAt(hist []int, n, t int) float64 {
	if n == 0 || t < 0 {
		return 0
	}
	c := 0
	for d := 0; d <= t && d < len(hist); d++ {
		c += hist[d]
	}
	return float64(c) / float64(n)
}

// ROC returns, for each threshold t from 0 to Bits, the false-positive rate
// on the negatives and the true-positive rate on tr's pairs.
func (hr *HasherReport) ROC(tr *TransformReport) (fpr, tpr []float64) {
	cn, cp := 0, 0
	for t := 0; t <= hr.Bits; t++ {
		cn += hr.Negatives[t]
		cp += tr.Hist[t]
		fpr = append(fpr, float64(cn)/float64(max(1, hr.NegativePairs)))
		tpr = append(tpr, float64(cp)/float64(max(1, tr.Pairs)))
	}
	return fpr, tpr
}

// PDQ is the Hasher for package pdq (256 bits).
type PDQ struct{}

// Name returns "pdq".
func (PDQ) Name() string { return "pdq" }

// Bits returns 256.
func (PDQ) Bits() int { return pdq.Bits }

// Hash hashes each image with PDQ, one goroutine per CPU (at most one per
// image), each with its own Hasher, which keeps its buffers between images.
// An image that fails is a result (errs), not a failure of the run.
func (PDQ) Hash(images [][]byte) ([][]byte, []error) {
	out := make([][]byte, len(images))
	errs := make([]error, len(images))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(images)) {
		wg.Go(func() {
			var h pdq.Hasher
			for i := int(next.Add(1) - 1); i < len(images); i = int(next.Add(1) - 1) {
				v, _, err := h.HashBytes(images[i])
				if err != nil {
					errs[i] = err
					continue
				}
				out[i] = v[:]
			}
		})
	}
	wg.Wait()
	return out, errs
}
