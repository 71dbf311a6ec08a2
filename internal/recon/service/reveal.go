package service

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/recon/secondhash"
	"github.com/vouchsafe/vouchsafe/psi"
)

// RevealView is the stored result of one account's last reveal. Below the
// threshold it holds only the candidate count: no ids, nothing that tells
// real matches from synthetic ones.
type RevealView struct {
	At time.Time `json:"at"`
	// Records is the number of match records the reveal read; the scheduler
	// skips an account whose record count has not changed since.
	Records         uint64 `json:"records"`
	Threshold       int    `json:"threshold"`
	RequiredMatches int    `json:"required_matches"`
	Candidates      int    `json:"candidates"`
	AboveThreshold  bool   `json:"above_threshold"`
	// The fields below are set only above the threshold (no ids below it;
	// the store counts conflicting shares), except Undecodable and
	// ExcessSynthetic, which flag a faulty or malicious client at any
	// count (see psi.RevealResult).
	Revealed        []secondhash.RevealedView `json:"revealed,omitempty"`
	SyntheticIDs    []string                  `json:"synthetic_ids,omitempty"`
	ConflictIDs     []string                  `json:"conflict_ids,omitempty"`
	MalformedIDs    []string                  `json:"malformed_ids,omitempty"`
	BadShareIDs     []string                  `json:"bad_share_ids,omitempty"`
	InvalidAD       []string                  `json:"invalid_ad_ids,omitempty"`
	Undecodable     bool                      `json:"undecodable_shares,omitempty"`
	ExcessSynthetic bool                      `json:"excess_synthetic,omitempty"`
	// CorruptRecords counts stored records that no longer parse.
	CorruptRecords int `json:"corrupt_records,omitempty"`
}

// RevealAccount runs the threshold step over the account's stored match
// records (all epochs) and stores the result. It holds the account's lock
// in the store, so that instances sharing a database reveal an account one
// at a time.
func (s *Service) RevealAccount(ctx context.Context, account string) (*RevealView, error) {
	unlock, _, err := s.cfg.Store.LockAccount(ctx, account, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.revealLocked(ctx, account)
}

// revealLocked is RevealAccount for a caller holding the account's lock.
func (s *Service) revealLocked(ctx context.Context, account string) (*RevealView, error) {
	s.revealMu.Lock()
	defer s.revealMu.Unlock()
	start := s.now()
	v, err := s.reveal(ctx, account)
	s.m.observe(s.mRevealTime, s.now().Sub(start))
	switch {
	case err != nil:
		s.m.inc(s.mReveals, 1, "error")
		s.log.Error("reveal failed", "account", account, "err", err)
	case v.AboveThreshold:
		s.m.inc(s.mReveals, 1, "above")
		s.log.Info("reveal above threshold", "account", account, "revealed", len(v.Revealed))
	default:
		s.m.inc(s.mReveals, 1, "below")
	}
	return v, err
}

func (s *Service) reveal(ctx context.Context, account string) (*RevealView, error) {
	raw, err := s.cfg.Store.Records(ctx, account)
	if err != nil {
		return nil, err
	}
	v := &RevealView{At: s.now().UTC(), Records: uint64(len(raw))}
	recs := make([]*psi.MatchRecord, 0, len(raw))
	for _, b := range raw {
		r := new(psi.MatchRecord)
		if err := r.UnmarshalBinary(b); err != nil {
			v.CorruptRecords++
			continue
		}
		recs = append(recs, r)
	}
	res, err := psi.Reveal(s.params, recs)
	if err != nil {
		return nil, err
	}
	v.Threshold, v.RequiredMatches, v.Candidates = res.Threshold, res.RequiredMatches, res.Candidates
	v.AboveThreshold, v.ExcessSynthetic, v.Undecodable = res.AboveThreshold, res.ExcessSynthetic, res.Undecodable
	if res.AboveThreshold {
		v.ConflictIDs, v.MalformedIDs = secondhash.IDStrings(res.ConflictIDs), secondhash.IDStrings(res.MalformedIDs)
		v.SyntheticIDs = secondhash.IDStrings(res.SyntheticIDs)
		v.BadShareIDs = secondhash.IDStrings(res.BadShareIDs)
		v.InvalidAD = secondhash.IDStrings(res.InvalidAD)
		for i := range res.Revealed {
			v.Revealed = append(v.Revealed, secondhash.ViewRevealed(&res.Revealed[i], s.cfg.SecondHash))
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Store.SetReveal(ctx, account, b); err != nil {
		return nil, err
	}
	return v, nil
}

// RevealAll reveals every account whose match records changed since its
// last reveal. It stops early when ctx is done and returns the number of
// accounts revealed. An account that another instance sharing the store is
// revealing is left to it, and each account is checked again under its lock,
// so that instances running RevealAll together reveal a change once.
func (s *Service) RevealAll(ctx context.Context) (int, error) {
	accounts, err := s.cfg.Store.Accounts(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var firstErr error
	for _, a := range accounts {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if !s.changed(ctx, a) {
			continue
		}
		unlock, ok, err := s.cfg.Store.LockAccount(ctx, a, false)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("account %s: %w", a, err)
			}
			continue
		}
		if !ok {
			continue // another instance is revealing it
		}
		if s.changed(ctx, a) {
			if _, err := s.revealLocked(ctx, a); err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("account %s: %w", a, err)
				}
			} else {
				n++
			}
		}
		unlock()
	}
	return n, firstErr
}

// changed reports whether an account's match records changed since its
// last stored reveal.
func (s *Service) changed(ctx context.Context, account string) bool {
	c, ok, err := s.cfg.Store.Counts(ctx, account)
	if err != nil || !ok {
		return false
	}
	if last, err := s.cfg.Store.Reveal(ctx, account); err == nil && last != nil {
		var prev RevealView
		if json.Unmarshal(last, &prev) == nil && prev.Records == c.Records() {
			return false
		}
	}
	return true
}

// RunScheduler runs RevealAll every interval until ctx is done.
func (s *Service) RunScheduler(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.RevealAll(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Error("scheduled reveal", "revealed", n, "err", err)
			} else {
				s.log.Info("scheduled reveal", "revealed", n)
			}
		}
	}
}
