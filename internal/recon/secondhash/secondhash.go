// Package secondhash is the reconstructor's independent second perceptual
// hash check. Apple's design re-hashes every revealed visual derivative with
// a second perceptual hash, computed against the same database, before a
// match can reach human review, so that a NeuralHash collision (natural or
// adversarial) alone never does.
//
// The second hash is PDQ (package pdq). The server holds a List of the PDQ
// hashes of the database images; Check decodes a revealed match's visual
// derivative, hashes it with PDQ and reports the nearest database hash. A
// match is confirmed when that distance is at most the list's threshold.
//
// A derivative is a small grayscale image (derivative.Side pixels square
// at most, with fewer grey levels when the image compresses badly), and its
// PDQ hash can be far from the PDQ hash of the full-resolution image: up to
// 58 bits on the CC0 test photos, beyond PDQ's match distance. So the list
// holds the PDQ hashes of the database images' own derivatives, made with the
// table's parameters exactly as a client makes them (DerivativeHash; the CLI's
// `db second-hash`): a client's copy of a database image then lands within a
// few bits. The package tests log the measured distances.
package secondhash

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math/bits"
	"os"
	"strings"

	"github.com/vouchsafe/vouchsafe/derivative"
	"github.com/vouchsafe/vouchsafe/pdq"
	"github.com/vouchsafe/vouchsafe/psi"
)

// DefaultThreshold is the largest PDQ distance at which a derivative
// confirms a database hash: pdq.MatchThreshold, Meta's recommended match
// distance for 256-bit PDQ hashes.
const DefaultThreshold = pdq.MatchThreshold

// MaxLine bounds one line of a list file.
const MaxLine = 1 << 16

// MaxHashes bounds the size of a list.
const MaxHashes = 1 << 26

// ErrEmpty is returned for a list file with no hashes.
var ErrEmpty = errors.New("secondhash: the list holds no PDQ hashes")

// List is a server's second-hash database: the PDQ hashes of the images
// behind the blinded table. It is safe for concurrent use once loaded.
type List struct {
	words     [][4]uint64
	threshold int
}

// Verdict is the outcome of the second-hash check on one revealed match.
type Verdict struct {
	// Confirmed is true when the derivative's PDQ hash is within the
	// threshold of a database hash.
	Confirmed bool `json:"confirmed"`
	// Distance is the Hamming distance to the nearest database hash (-1
	// when the derivative could not be hashed).
	Distance int `json:"distance"`
	// Threshold is the largest distance that confirms.
	Threshold int `json:"threshold"`
	// Quality is PDQ's quality score (0 to 100) of the derivative.
	Quality int `json:"quality"`
	// Hash is the derivative's PDQ hash and Nearest the nearest database
	// hash, both in 64 hex digits.
	Hash    string `json:"hash,omitempty"`
	Nearest string `json:"nearest,omitempty"`
	// Error says why the derivative could not be checked (none sent, or
	// undecodable); such a match is not confirmed.
	Error string `json:"error,omitempty"`
}

// New returns a list of the given hashes with DefaultThreshold.
func New(hashes []pdq.Hash) (*List, error) {
	if len(hashes) == 0 {
		return nil, ErrEmpty
	}
	l := &List{words: make([][4]uint64, len(hashes)), threshold: DefaultThreshold}
	for i, h := range hashes {
		l.words[i] = words(h)
	}
	return l, nil
}

// Load reads a list file; see Parse for its format.
func Load(path string) (*List, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secondhash: %w", err)
	}
	defer f.Close()
	l, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// Parse reads a list: one PDQ hash per line, either as 64 hex digits (any
// text after the first comma, tab or space is ignored, so CSV with the hash
// first works) or as a JSON object with a "hash" field, as `vouchsafe hash
// --algo pdq` writes. Blank lines and lines starting with # are skipped; so
// are JSON records with an "error" field (images that failed to hash).
func Parse(r io.Reader) (*List, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	var hs []pdq.Hash
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		h, skip, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("secondhash: line %d: %w", n, err)
		}
		if skip {
			continue
		}
		if len(hs) == MaxHashes {
			return nil, fmt.Errorf("secondhash: more than %d hashes", MaxHashes)
		}
		hs = append(hs, h)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("secondhash: %w", err)
	}
	return New(hs)
}

func parseLine(line []byte) (h pdq.Hash, skip bool, err error) {
	if line[0] == '{' {
		var rec struct {
			Hash  string `json:"hash"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return h, false, fmt.Errorf("bad JSON: %w", err)
		}
		if rec.Error != "" && rec.Hash == "" {
			return h, true, nil
		}
		h, err = pdq.ParseHash(rec.Hash)
		return h, false, err
	}
	s := string(line)
	if i := strings.IndexAny(s, ", \t"); i >= 0 {
		s = s[:i]
	}
	if s == "hash" { // a CSV header
		return h, true, nil
	}
	h, err = pdq.ParseHash(s)
	return h, false, err
}

// WithThreshold returns a copy of l that confirms at distances up to t.
func (l *List) WithThreshold(t int) (*List, error) {
	if t < 0 || t >= pdq.Bits {
		return nil, fmt.Errorf("secondhash: threshold %d out of range [0, %d)", t, pdq.Bits)
	}
	return &List{words: l.words, threshold: t}, nil
}

// Len is the number of hashes in the list.
func (l *List) Len() int { return len(l.words) }

// Threshold is the largest distance that confirms.
func (l *List) Threshold() int { return l.threshold }

// Nearest returns the index of the list hash nearest to h and its distance.
func (l *List) Nearest(h pdq.Hash) (int, int) {
	w := words(h)
	best, bestD := -1, pdq.Bits+1
	for i, x := range l.words {
		d := bits.OnesCount64(w[0]^x[0]) + bits.OnesCount64(w[1]^x[1]) +
			bits.OnesCount64(w[2]^x[2]) + bits.OnesCount64(w[3]^x[3])
		if d < bestD {
			best, bestD = i, d
			if d == 0 {
				break
			}
		}
	}
	return best, bestD
}

// DerivativeHash returns the PDQ hash and quality of the visual derivative a
// client makes of img for tables with parameters p: the hash a List should
// hold for a database image.
func DerivativeHash(enc *derivative.Encoder, img image.Image, p psi.Params) (pdq.Hash, int, error) {
	d, err := enc.Encode(img, p.MaxDerivative())
	if err != nil {
		return pdq.Hash{}, 0, err
	}
	g, err := derivative.Decode(d)
	if err != nil {
		return pdq.Hash{}, 0, err
	}
	return pdq.FromImage(g)
}

// CheckImage hashes img with PDQ and checks it against the list.
func (l *List) CheckImage(img image.Image) Verdict {
	v := Verdict{Distance: -1, Threshold: l.threshold}
	h, q, err := pdq.FromImage(img)
	if err != nil {
		v.Error = err.Error()
		return v
	}
	i, d := l.Nearest(h)
	v.Distance, v.Quality, v.Hash = d, q, h.String()
	v.Nearest = hashOf(l.words[i]).String()
	v.Confirmed = d <= l.threshold
	return v
}

// Check decodes the visual derivative in a revealed match's associated data
// and checks it. A match without a derivative, or with one that does not
// decode, is not confirmed and says why.
func (l *List) Check(m *psi.RevealedMatch) Verdict {
	img, err := decode(m)
	if err != nil {
		return Verdict{Distance: -1, Threshold: l.threshold, Error: err.Error()}
	}
	return l.CheckImage(img)
}

// ErrNoDerivative is the error of a [Verdict] for a revealed match whose
// client sent no visual derivative.
var ErrNoDerivative = errors.New("secondhash: revealed match has no visual derivative")

// decode returns the visual derivative image in m's associated data.
func decode(m *psi.RevealedMatch) (image.Image, error) {
	d, err := m.Derivative()
	if err != nil {
		return nil, err
	}
	if len(d) == 0 {
		return nil, ErrNoDerivative
	}
	return derivative.Decode(d)
}

func words(h pdq.Hash) [4]uint64 {
	var w [4]uint64
	for i := range w {
		for j := 0; j < 8; j++ {
			w[i] = w[i]<<8 | uint64(h[8*i+j])
		}
	}
	return w
}

func hashOf(w [4]uint64) pdq.Hash {
	var h pdq.Hash
	for i := range w {
		for j := 0; j < 8; j++ {
			h[8*i+j] = byte(w[i] >> (56 - 8*j))
		}
	}
	return h
}
