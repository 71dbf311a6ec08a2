package psi

import (
	"bytes"
	"fmt"
	"slices"
)

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
