package service

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/recon/secondhash"
	"github.com/vouchsafe/vouchsafe/internal/recon/store"
	"github.com/vouchsafe/vouchsafe/psi"
)

// library runs the same vouchers through the psi library directly: the
// counts the service should report and psi.Reveal's result.
func library(t *testing.T, srv *psi.Server, p psi.Params, vs [][]byte) (store.Counts, *psi.RevealResult) {
	t.Helper()
	var c store.Counts
	var recs []*psi.MatchRecord
	seen := map[psi.ID]bool{}
	for _, r := range srv.MatchBatch(vs, 2) {
		// The service counts every id once; Match sees every voucher.
		// Count each id once to compare.
		if seen[r.Header.ID] {
			continue
		}
		seen[r.Header.ID] = true
		c.Vouchers++
		switch {
		case r.Err != nil:
			c.Invalid++
		case r.Record == nil:
			c.NonMatches++
		default:
			c.Matches++
			recs = append(recs, r.Record)
		}
	}
	res, err := psi.Reveal(p, recs)
	if err != nil {
		t.Fatal(err)
	}
	return c, res
}

func sameAsLibrary(t *testing.T, h *harness, account string, vs [][]byte) *RevealView {
	t.Helper()
	code, b := h.do("POST", "/v1/accounts/"+account+"/reveal", tokOps, "", nil)
	if code != http.StatusOK {
		t.Fatalf("reveal %s: %d %s", account, code, b)
	}
	av, rv := h.account(account)
	want, res := library(t, h.svc.cfg.Server, h.svc.params, vs)
	if av.Counts != want {
		t.Errorf("%s: counts %+v, library %+v", account, av.Counts, want)
	}
	if rv == nil {
		t.Fatalf("%s: no reveal stored", account)
	}
	if rv.Candidates != res.Candidates || rv.AboveThreshold != res.AboveThreshold || rv.Threshold != res.Threshold || rv.RequiredMatches != res.RequiredMatches {
		t.Errorf("%s: reveal %+v, library %+v", account, rv, res)
	}
	var ids, hashes []string
	for _, m := range res.Revealed {
		ids = append(ids, m.ID.String())
		hh, _ := m.Hash()
		hashes = append(hashes, hh.String())
	}
	var gotIDs, gotHashes []string
	for _, m := range rv.Revealed {
		gotIDs, gotHashes = append(gotIDs, m.ID), append(gotHashes, m.Hash)
		if m.Derivative == "" || m.DerivativePNG == "" {
			t.Errorf("%s: revealed %s without its derivative", account, m.ID)
		}
	}
	if !slices.Equal(gotIDs, ids) || !slices.Equal(gotHashes, hashes) {
		t.Errorf("%s: revealed %v %v, library %v %v", account, gotIDs, gotHashes, ids, hashes)
	}
	if !slices.Equal(rv.SyntheticIDs, secondhash.IDStrings(res.SyntheticIDs)) || !slices.Equal(rv.ConflictIDs, secondhash.IDStrings(res.ConflictIDs)) || !slices.Equal(rv.BadShareIDs, secondhash.IDStrings(res.BadShareIDs)) || !slices.Equal(rv.InvalidAD, secondhash.IDStrings(res.InvalidAD)) {
		t.Errorf("%s: id lists differ from the library", account)
	}
	if !res.AboveThreshold {
		// Below the threshold the operator sees the count only.
		var raw map[string]any
		json.Unmarshal(av.LastReveal, &raw)
		for k := range raw {
			if !slices.Contains([]string{"at", "records", "threshold", "required_matches", "candidates", "above_threshold"}, k) {
				t.Errorf("%s: below-threshold reveal carries %q", account, k)
			}
		}
	}
	return rv
}

func TestEndToEnd(t *testing.T) {
	f := newFixture(t, "e2e", 2, 6)
	// The second hash: a real PDQ list holding the fixture's derivative,
	// which every revealed match carries.
	dh, list := derivHashOf(t, f), secondHashOf(t, f)
	h := newHarness(t, f, func(c *Config) {
		c.SecondHash = list
	})

	// alice: three real matches and three non-members, below the threshold.
	alice := newAccount(t, "alice")
	va := f.vouchers(t, alice, 0, 0, 3, 3, 0, "alice")
	code, res := h.upload("alice", tokAlice, va)
	if code != http.StatusOK || res.Stored != 6 || res.Duplicate != 0 || res.Rejected != 0 {
		t.Fatalf("alice upload: %d %+v", code, res)
	}
	for _, v := range res.Vouchers {
		if v.Status != StatusStored || v.Error != "" {
			t.Fatalf("alice voucher %+v", v)
		}
	}
	rv := sameAsLibrary(t, h, "alice", va)
	if rv.AboveThreshold || rv.Candidates != 3 {
		t.Fatalf("alice: %+v", rv)
	}

	// A retry of the same upload counts nothing.
	if code, res = h.upload("alice", tokAlice, va); code != http.StatusOK || res.Duplicate != 6 || res.Stored != 0 {
		t.Fatalf("alice retry: %d %+v", code, res)
	}
	// One raw voucher from the gateway (any account): the fourth match.
	v4 := f.vouchers(t, alice, 1, 0, 1, 0, 0, "alice-e1")
	code, b := h.do("POST", "/v1/accounts/alice/vouchers", tokGate, ContentTypeVoucher, v4[0])
	if code != http.StatusOK || !strings.Contains(string(b), `"stored":1`) {
		t.Fatalf("raw voucher: %d %s", code, b)
	}
	rv = sameAsLibrary(t, h, "alice", append(va, v4...))
	if !rv.AboveThreshold || len(rv.Revealed) != 4 {
		t.Fatalf("alice above: %+v", rv)
	}
	for _, m := range rv.Revealed {
		if v := m.SecondHash; v == nil || !v.Confirmed || v.Distance != 0 || v.Nearest != dh.String() || v.Hash != dh.String() || v.Error != "" {
			t.Fatalf("second-hash verdict %+v, want confirmed at distance 0 from %s", v, dh)
		}
	}

	// bob: two epochs with synthetic vouchers, through the library and the
	// service alike.
	bob := newAccount(t, "bob")
	vb := f.vouchers(t, bob, 0, 0, 4, 8, 0.3, "bob0")
	vb = append(vb, f.vouchers(t, bob, 1, 0, 5, 8, 0.3, "bob1")...)
	for i := 0; i < len(vb); i += 7 {
		if code, _ := h.upload("bob", tokBob, vb[i:min(i+7, len(vb))]); code != http.StatusOK {
			t.Fatalf("bob upload: %d", code)
		}
	}
	rv = sameAsLibrary(t, h, "bob", vb)
	if !rv.AboveThreshold || len(rv.SyntheticIDs) == 0 {
		t.Fatalf("bob: want above the threshold with synthetics: %+v", rv)
	}

	// The scheduler reveals only accounts that changed.
	carol := newAccount(t, "carol")
	if code, _ := h.upload("carol", tokGate, f.vouchers(t, carol, 0, 0, 2, 1, 0, "carol")); code != http.StatusOK {
		t.Fatal(code)
	}
	n, err := h.svc.RevealAll(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("RevealAll: %d, %v; want 1 (carol)", n, err)
	}
	if n, _ := h.svc.RevealAll(context.Background()); n != 0 {
		t.Fatalf("second RevealAll revealed %d", n)
	}
	if _, rv := h.account("carol"); rv == nil || rv.Candidates != 2 {
		t.Fatalf("carol: %+v", rv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dave := newAccount(t, "dave")
	h.upload("dave", tokGate, f.vouchers(t, dave, 0, 0, 1, 0, 0, "dave"))
	done := make(chan struct{})
	go func() { h.svc.RunScheduler(ctx, 5*time.Millisecond); close(done) }()
	// The deadline only turns a hang into a failure: a loaded machine may
	// take a while to run the scheduler.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if _, rv := h.account("dave"); rv != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the scheduler did not reveal dave in a minute")
		}
	}
	cancel()
	<-done

	// The store survives a restart with the same content.
	before := snapshot(t, h.st)
	h.st.Close()
	st, err := store.Open(h.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.st = st
	if after := snapshot(t, st); !equalSnap(before, after) {
		t.Fatalf("store changed across reopen")
	}

	// Metrics: operator only, Prometheus text.
	if code, _ := h.do("GET", "/metrics", "", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("metrics without a token: %d", code)
	}
	code, b = h.do("GET", "/metrics", tokOps, "", nil)
	if code != http.StatusOK {
		t.Fatal(code)
	}
	for _, want := range []string{
		"# TYPE vouchsafe_vouchers_ingested_total counter",
		`vouchsafe_vouchers_ingested_total{status="duplicate"} 6`,
		`vouchsafe_http_request_duration_seconds_bucket{route="vouchers",le="+Inf"}`,
		`vouchsafe_reveals_total{result="above"}`,
		`vouchsafe_http_requests_total{route="vouchers",code="200"}`,
		"vouchsafe_match_records_stored_total ",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if code, b := h.do("GET", "/healthz", "", "", nil); code != http.StatusOK || string(b) != "ok\n" {
		t.Fatalf("healthz: %d %q", code, b)
	}
}

// snap is the whole visible state of a store: per account its counts, a
// digest of its match records and its last reveal.
type snap map[string]acctSnap

type acctSnap struct {
	c       store.Counts
	records [32]byte
	reveal  [32]byte
}

func snapshot(t testing.TB, st store.Store) snap {
	t.Helper()
	out := snap{}
	accts, err := st.Accounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accts {
		c, _, err := st.Counts(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := st.Records(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		for _, r := range recs {
			binary.Write(h, binary.BigEndian, uint32(len(r)))
			h.Write(r)
		}
		rv, err := st.Reveal(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		out[a] = acctSnap{c: c, records: [32]byte(h.Sum(nil)), reveal: sha256.Sum256(rv)}
	}
	return out
}

func equalSnap(a, b snap) bool { return maps.Equal(a, b) }
