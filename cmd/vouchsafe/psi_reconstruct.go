package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/vouchsafe/vouchsafe/internal/keyfile"
	"github.com/vouchsafe/vouchsafe/internal/recon/secondhash"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
	"github.com/vouchsafe/vouchsafe/psi"
)

func init() {
	register(command{name: "reconstruct", usage: "test vouchers with the server keys and run the threshold reveal per account", run: runReconstruct})
}

// accountReport is one line of reconstruct's JSON Lines output.
type accountReport struct {
	Account         string                    `json:"account"`
	Vouchers        uint64                    `json:"vouchers"`
	Matches         int                       `json:"match_records"`
	NonMatches      uint64                    `json:"non_matches"`
	Invalid         uint64                    `json:"invalid"`
	Threshold       int                       `json:"threshold"`
	RequiredMatches int                       `json:"required_matches"`
	Candidates      int                       `json:"candidates"`
	CandidateIDs    []string                  `json:"candidate_ids"`
	AboveThreshold  bool                      `json:"above_threshold"`
	Revealed        []secondhash.RevealedView `json:"revealed,omitempty"`
	SyntheticIDs    []string                  `json:"synthetic_ids,omitempty"`
	ConflictIDs     []string                  `json:"conflict_ids,omitempty"`
	MalformedIDs    []string                  `json:"malformed_ids,omitempty"`
	BadShareIDs     []string                  `json:"bad_share_ids,omitempty"`
	InvalidAD       []string                  `json:"invalid_ad_ids,omitempty"`
	Undecodable     bool                      `json:"undecodable_shares,omitempty"`
	ExcessSynthetic bool                      `json:"excess_synthetic,omitempty"`
	Errors          []voucherError            `json:"errors,omitempty"`
	// Confirmed, present when the second-hash check ran, counts the
	// revealed matches it confirmed. Only confirmed matches go to review.
	Confirmed *int `json:"second_hash_confirmed,omitempty"`
}

type voucherError struct {
	File  string `json:"file"`
	Index int    `json:"index"` // 1-based position in the file
	ID    string `json:"id,omitempty"`
	Error string `json:"error"`
}

func runReconstruct(env *cliEnv, args []string) int {
	fs := newFlagSet(env, "reconstruct", "--key server.key [--key ...] vouchers...")
	var keys listFlag
	fs.Var(&keys, "key", "server key `file` of one table epoch; repeat for several epochs")
	out := fs.String("o", "", "write the JSON Lines report to `file` (default stdout)")
	workers := fs.Int("workers", 0, "goroutines (default GOMAXPROCS)")
	second := fs.String("second-hash", "", "check every revealed visual derivative against this PDQ list `file` (db second-hash)")
	secondT := fs.Int("second-hash-threshold", -1, "largest PDQ distance that confirms (default 31)")
	pos, st, ok := parseInterleaved(fs, args)
	if !ok {
		return st
	}
	if st, ok := missingFlags(env, "reconstruct", fs, "key"); !ok {
		return st
	}
	if len(pos) == 0 {
		fs.Usage()
		return exitUsage
	}
	var list *secondhash.List
	if *second != "" {
		l, err := loadSecondHash(*second, *secondT)
		if err != nil {
			return fail(env, "reconstruct", err)
		}
		list = l
	}
	srv, err := keyfile.LoadServer(keys)
	if err != nil {
		return fail(env, "reconstruct", err)
	}
	params, err := srv.Params()
	if err != nil {
		return fail(env, "reconstruct", err)
	}
	stores := map[string]*tally{}
	errs := map[string][]voucherError{}
	status := 0
	for _, path := range pos {
		label, vs, ferr := readVoucherFile(path)
		if label == "" && vs == nil {
			fmt.Fprintf(env.stderr, "vouchsafe reconstruct: %s: %v\n", path, ferr)
			status = 1
			continue
		}
		st := stores[label]
		if st == nil {
			st = new(tally)
			stores[label] = st
		}
		for i, r := range srv.MatchBatch(vs, *workers) {
			st.add(r.Record, r.Err)
			if r.Err != nil {
				ve := voucherError{File: path, Index: i + 1, Error: r.Err.Error()}
				if r.Header != (psi.VoucherHeader{}) {
					ve.ID = r.Header.ID.String()
				}
				errs[label] = append(errs[label], ve)
				fmt.Fprintf(env.stderr, "vouchsafe reconstruct: %s: voucher %d: %v\n", path, i+1, r.Err)
				status = 1 // an invalid voucher: the report is still written
			}
		}
		if ferr != nil {
			errs[label] = append(errs[label], voucherError{File: path, Index: len(vs) + 1, Error: ferr.Error()})
			fmt.Fprintf(env.stderr, "vouchsafe reconstruct: %s: after voucher %d: %v\n", path, len(vs), ferr)
			status = 1 // the report is still written
		}
	}
	w := env.stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			return fail(env, "reconstruct", err)
		}
		w = f
	}
	labels := make([]string, 0, len(stores))
	for l := range stores {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	enc := json.NewEncoder(w)
	for _, l := range labels {
		st := stores[l]
		res, err := psi.Reveal(params, st.records)
		if err != nil {
			return fail(env, "reconstruct", err)
		}
		if err := enc.Encode(reportOf(l, st, res, errs[l], list)); err != nil {
			return fail(env, "reconstruct", err)
		}
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fail(env, "reconstruct", err)
		}
	}
	return status
}

// tally is one account's vouchers in reconstruct: the report's counts and
// the match records Reveal takes. A record whose id is already held with
// the same share (a retry, or the same voucher in two files) is held once;
// one with another share is held too, and Reveal names the id a conflict.
type tally struct {
	vouchers   uint64 // every voucher read, valid or not
	nonMatches uint64
	invalid    uint64 // vouchers Match rejected
	records    []*psi.MatchRecord
	byID       map[psi.ID][]*psi.MatchRecord // records by id, to find retries
}

// add files one Match outcome: rec for a match, nil for a non-match, err
// for an invalid voucher.
func (t *tally) add(rec *psi.MatchRecord, err error) {
	t.vouchers++
	switch {
	case err != nil:
		t.invalid++
		return
	case rec == nil:
		t.nonMatches++
		return
	}
	for _, r := range t.byID[rec.ID] {
		if r.SameShare(rec) {
			return
		}
	}
	if t.byID == nil {
		t.byID = map[psi.ID][]*psi.MatchRecord{}
	}
	t.byID[rec.ID] = append(t.byID[rec.ID], rec)
	t.records = append(t.records, rec)
}

// readVoucherFile reads a voucher stream. A corrupt frame ends the file
// early: the vouchers before it are returned with the error.
func readVoucherFile(path string) (string, [][]byte, error) {
	f, err := safeio.Open(path, safeio.MaxListFile)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	r, err := psi.NewVoucherReader(f)
	if err != nil {
		return "", nil, err
	}
	vs := [][]byte{}
	for {
		v, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Label(), vs, nil
		}
		if err != nil {
			return r.Label(), vs, err
		}
		vs = append(vs, v)
	}
}

// reportOf builds an account's report; list, when not nil, is the
// second-hash check applied to every revealed derivative.
func reportOf(label string, st *tally, res *psi.RevealResult, errs []voucherError, list *secondhash.List) accountReport {
	rep := accountReport{
		Account: label, Vouchers: st.vouchers, Matches: len(st.records), NonMatches: st.nonMatches, Invalid: st.invalid,
		Threshold: res.Threshold, RequiredMatches: res.RequiredMatches, Candidates: res.Candidates,
		CandidateIDs: secondhash.IDStrings(res.CandidateIDs), AboveThreshold: res.AboveThreshold,
		SyntheticIDs: secondhash.IDStrings(res.SyntheticIDs), ConflictIDs: secondhash.IDStrings(res.ConflictIDs),
		MalformedIDs: secondhash.IDStrings(res.MalformedIDs), BadShareIDs: secondhash.IDStrings(res.BadShareIDs),
		InvalidAD: secondhash.IDStrings(res.InvalidAD), Undecodable: res.Undecodable, ExcessSynthetic: res.ExcessSynthetic, Errors: errs,
	}
	if list != nil {
		rep.Confirmed = new(int)
	}
	for i := range res.Revealed {
		rv := secondhash.ViewRevealed(&res.Revealed[i], list)
		if rv.SecondHash != nil && rv.SecondHash.Confirmed {
			*rep.Confirmed++
		}
		rep.Revealed = append(rep.Revealed, rv)
	}
	return rep
}
