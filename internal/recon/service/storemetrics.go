package service

import (
	"context"
	"fmt"
	"io"

	"github.com/vouchsafe/vouchsafe/internal/recon/store"
)

// writeStoreMetrics appends the gauges read from the store: the same on
// every instance sharing a database, unlike the per-instance counters. A
// store that cannot answer leaves them out (the scrape still succeeds).
func (s *Service) writeStoreMetrics(ctx context.Context, w io.Writer) {
	if r, ok := s.cfg.Store.(interface{ Retries() int64 }); ok {
		fmt.Fprintf(w, "# HELP vouchsafe_store_retries_total Store transactions re-run after a lost database connection (this instance).\n# TYPE vouchsafe_store_retries_total counter\nvouchsafe_store_retries_total %d\n", r.Retries())
	}
	tt, ok := s.cfg.Store.(store.Totaler)
	if !ok {
		return
	}
	t, err := tt.Totals(ctx)
	if err != nil {
		s.m.inc(s.mErrors, 1, "store")
		s.log.Error("store totals failed", "err", err)
		return
	}
	fmt.Fprintf(w, "# HELP vouchsafe_store_accounts Accounts in the store (all instances).\n# TYPE vouchsafe_store_accounts gauge\nvouchsafe_store_accounts %d\n", t.Accounts)
	fmt.Fprintf(w, "# HELP vouchsafe_store_vouchers Distinct voucher ids in the store by kind (all instances).\n# TYPE vouchsafe_store_vouchers gauge\n")
	for _, k := range []struct {
		kind string
		n    uint64
	}{{"match", t.Matches}, {"non_match", t.NonMatches}, {"invalid", t.Invalid}} {
		fmt.Fprintf(w, "vouchsafe_store_vouchers{kind=%q} %d\n", k.kind, k.n)
	}
	fmt.Fprintf(w, "# HELP vouchsafe_store_conflicts Match records stored under an id already stored with another share (all instances).\n# TYPE vouchsafe_store_conflicts gauge\nvouchsafe_store_conflicts %d\n", t.Conflicts)
}
