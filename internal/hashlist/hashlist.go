// Package hashlist reads hash lists: the hashing engine's JSON Lines output
// or bare hashes, one per line, as vouchsafe db and voucher take them.
package hashlist

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/vouchsafe/vouchsafe/psi"
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
			if _, err := psi.ParseHash(rec.Hash); err != nil {
				return nil, 0, fmt.Errorf("line %d: %v", line, err)
			}
			recs = append(recs, rec)
			continue
		}
		h := strings.ToLower(s)
		if _, err := psi.ParseHash(h); err != nil {
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
func ReadHashes(r io.Reader) ([]psi.Hash, error) {
	recs, _, err := ReadHashRecords(r)
	if err != nil {
		return nil, err
	}
	out := make([]psi.Hash, len(recs))
	for i, rec := range recs {
		out[i], _ = psi.ParseHash(rec.Hash)
	}
	return out, nil
}

// trunc shortens s for an error message.
func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
