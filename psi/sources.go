package psi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// HashRecord is one line of the hashing engine's JSON Lines output.
type HashRecord struct {
	Path   string `json:"path"`
	Hash   string `json:"hash,omitempty"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	Error  string `json:"error,omitempty"`
}

// MaxLine bounds one line of a hash list.
const MaxLine = 1 << 20

// ReadHashRecords reads a hash list: one record per line, either the
// engine's JSON Lines form ({"path":…,"hash":"…"}) or a bare hash of 24 hex
// digits. Blank lines and lines starting with '#' are skipped, and so are
// JSON records with an "error" (failed files) or without a hash; skipped
// counts those records. Bare hashes get an empty Path. Upper-case hex is
// accepted and normalised.
func ReadHashRecords(r io.Reader) (recs []HashRecord, skipped int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), MaxLine)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		if s[0] == '{' {
			var rec HashRecord
			dec := json.NewDecoder(strings.NewReader(s))
			if err := dec.Decode(&rec); err != nil {
				return nil, 0, fmt.Errorf("line %d: %v", line, err)
			}
			// One record per line: anything after the value (a second
			// record glued on, stray bytes) would otherwise be dropped.
			if rest := strings.TrimSpace(s[dec.InputOffset():]); rest != "" {
				return nil, 0, fmt.Errorf("line %d: %q after the JSON record (one record per line)", line, trunc(rest))
			}
			if rec.Error != "" || rec.Hash == "" {
				skipped++
				continue
			}
			rec.Hash = strings.ToLower(rec.Hash)
			if _, err := ParseHash(rec.Hash); err != nil {
				return nil, 0, fmt.Errorf("line %d: %v", line, err)
			}
			recs = append(recs, rec)
			continue
		}
		h := strings.ToLower(s)
		if _, err := ParseHash(h); err != nil {
			return nil, 0, fmt.Errorf("line %d: %v", line, err)
		}
		recs = append(recs, HashRecord{Hash: h})
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("line %d: %v", line+1, err)
	}
	return recs, skipped, nil
}

// ReadHashes reads a hash list (see ReadHashRecords) and returns its hashes.
func ReadHashes(r io.Reader) ([]Hash, error) {
	recs, _, err := ReadHashRecords(r)
	if err != nil {
		return nil, err
	}
	out := make([]Hash, len(recs))
	for i, rec := range recs {
		out[i], _ = ParseHash(rec.Hash)
	}
	return out, nil
}

// Source is one supplier's hash list.
type Source struct {
	Name         string // the organisation
	Jurisdiction string // its sovereign jurisdiction
	Hashes       []Hash
}

// Rule is the intersection rule of protocol.md §1: a hash enters the table
// only if at least MinSources distinct sources from at least
// MinJurisdictions distinct jurisdictions supplied it.
type Rule struct {
	MinSources       int
	MinJurisdictions int
}

// DefaultRule is Apple's: two sources in two different jurisdictions.
var DefaultRule = Rule{MinSources: 2, MinJurisdictions: 2}

// Intersect applies the rule and returns the kept hashes, sorted and
// distinct. Sources with the same Name count once.
func Intersect(sources []Source, rule Rule) ([]Hash, error) {
	if rule.MinSources < 1 || rule.MinJurisdictions < 1 {
		return nil, fmt.Errorf("psi: intersection rule needs at least 1 source and 1 jurisdiction, got %d and %d", rule.MinSources, rule.MinJurisdictions)
	}
	type supp struct{ names, juris map[string]bool }
	m := map[Hash]*supp{}
	for _, src := range sources {
		for _, h := range src.Hashes {
			s := m[h]
			if s == nil {
				s = &supp{map[string]bool{}, map[string]bool{}}
				m[h] = s
			}
			s.names[src.Name] = true
			s.juris[src.Jurisdiction] = true
		}
	}
	var out []Hash
	for h, s := range m {
		if len(s.names) >= rule.MinSources && len(s.juris) >= rule.MinJurisdictions {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b Hash) int { return bytes.Compare(a[:], b[:]) })
	return out, nil
}
