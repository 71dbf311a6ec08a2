package service

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/recon/store"
	"github.com/vouchsafe/vouchsafe/internal/recon/store/pgtest"
)

// reviewInstance is one serve instance with the review console on the
// PostgreSQL database at dbURL, with its own connection pool as another
// process would have.
func reviewInstance(t *testing.T, f *fixture, dbURL string, clk *clock, quorum int) *harness {
	t.Helper()
	h := pgHarness(t, f, dbURL, nil, func(c *Config) {
		c.Now, c.ReviewQuorum, c.SecondHash = clk.now, quorum, secondHashOf(t, f)
	})
	if h.svc.review == nil {
		t.Fatal("no review console on a PostgreSQL store")
	}
	return h
}

// TestReviewPostgres runs the console on two instances sharing one
// PostgreSQL database, as `serve --store postgres://…` behind a load
// balancer: with --review-quorum 2 a confirmation on each instance makes
// the quorum, the report is made on either, both export the same audit log
// and report package, and all of it is there for a third instance started
// after the first two stopped.
func TestReviewPostgres(t *testing.T) {
	srv := pgtest.New(t)
	dbURL, err := srv.CreateDB(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	f := reviewFixture(t)
	clk := &clock{t: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)}
	a, b := reviewInstance(t, f, dbURL, clk, 2), reviewInstance(t, f, dbURL, clk, 2)

	alice := newAccount(t, "alice")
	// The stream is labelled with the account (psi's label rule).
	stream := streamOf(t, "alice", f.vouchers(t, alice, 0, 0, 8, 3, 0.25, "alice"))
	if code, body := a.do("POST", "/v1/accounts/alice/vouchers", tokAlice, ContentTypeStream, stream); code != http.StatusOK {
		t.Fatalf("upload: %d %s", code, body)
	}
	clk.advance(time.Minute)
	if code, body := b.do("POST", "/v1/accounts/alice/reveal", tokOps, "", nil); code != http.StatusOK {
		t.Fatalf("reveal: %d %s", code, body)
	}
	_, av := a.account("alice")
	if !av.AboveThreshold || len(av.Revealed) < 2 {
		t.Fatalf("alice: above threshold %v, %d revealed", av.AboveThreshold, len(av.Revealed))
	}
	m1 := av.Revealed[0].ID

	r1, r2 := newBrowser(t, a), newBrowser(t, b)
	for _, c := range []struct {
		br  *browser
		tok string
	}{{r1, tokRev1}, {r2, tokRev2}} {
		if code := c.br.login(c.tok); code != http.StatusSeeOther {
			t.Fatalf("log-in: %d", code)
		}
		if _, body := c.br.get("/review"); !strings.Contains(body, ">alice<") {
			t.Fatalf("alice is not queued:\n%.500s", body)
		}
	}
	confirm := url.Values{"decision": {"confirm"}}
	report := url.Values{"decision": {"report"}, "reason": {"two confirmations"}}
	clk.advance(time.Minute)
	if resp, body := r1.post("/review/accounts/alice/matches/"+m1, confirm, true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm on instance a: %d %.300s", resp.StatusCode, body)
	}
	// Instance b sees a's confirmation: one reviewer is not a quorum of 2,
	// a second one on b makes it.
	if resp, _ := r2.post("/review/accounts/alice", report, true); resp.StatusCode != http.StatusConflict {
		t.Fatalf("report with one confirmation: %d, want 409", resp.StatusCode)
	}
	if resp, body := r2.post("/review/accounts/alice/matches/"+m1, confirm, true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm on instance b: %d %.300s", resp.StatusCode, body)
	}
	if resp, body := r2.post("/review/accounts/alice", report, true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("report on instance b: %d %.300s", resp.StatusCode, body)
	}
	// Instance a sees the report: alice has left its queue and a further
	// decision there is refused.
	if _, body := r1.get("/review"); strings.Contains(body, ">alice<") {
		t.Error("alice is still queued on instance a after the report on b")
	}
	if resp, _ := r1.post("/review/accounts/alice/matches/"+av.Revealed[1].ID, confirm, true); resp.StatusCode != http.StatusConflict {
		t.Errorf("decision on a after the report on b: %d, want 409", resp.StatusCode)
	}

	log := auditOf(t, a)
	want := []store.AuditEntry{
		{Reviewer: "rev1", Account: "alice", Match: m1, Decision: store.Confirm},
		{Reviewer: "rev2", Account: "alice", Match: m1, Decision: store.Confirm},
		{Reviewer: "rev2", Account: "alice", Decision: store.Report, Reason: "two confirmations"},
	}
	if len(log) != len(want) {
		t.Fatalf("audit log %+v", log)
	}
	for i := range want {
		want[i].Seq, want[i].At = log[i].Seq, time.Date(2026, 12, 4, 9, 2, 0, 0, time.UTC)
		if !log[i].At.Equal(want[i].At) || i > 0 && log[i].Seq <= log[i-1].Seq {
			t.Errorf("audit entry %d at %v seq %d", i, log[i].At, log[i].Seq)
		}
		log[i].At = want[i].At
		if log[i] != want[i] {
			t.Errorf("audit entry %d: %+v, want %+v", i, log[i], want[i])
		}
	}
	_, ea := a.do("GET", "/v1/audit", tokOps, "", nil)
	_, eb := b.do("GET", "/v1/audit", tokOps, "", nil)
	ca, pa := a.do("GET", "/v1/accounts/alice/report", tokOps, "", nil)
	cb, pb := b.do("GET", "/v1/accounts/alice/report", tokOps, "", nil)
	if !bytes.Equal(ea, eb) || ca != http.StatusOK || cb != http.StatusOK || !bytes.Equal(pa, pb) {
		t.Fatalf("the instances disagree: audit equal %v, report packages %d %d equal %v", bytes.Equal(ea, eb), ca, cb, bytes.Equal(pa, pb))
	}

	// Both stop; a new instance on the database has every decision.
	a.http.Close()
	b.http.Close()
	c := reviewInstance(t, f, dbURL, clk, 2)
	if _, ec := c.do("GET", "/v1/audit", tokOps, "", nil); !bytes.Equal(ec, ea) {
		t.Fatalf("a new instance exports another audit log:\n%s\nwant\n%s", ec, ea)
	}
	if code, pc := c.do("GET", "/v1/accounts/alice/report", tokOps, "", nil); code != http.StatusOK || !bytes.Equal(pc, pa) {
		t.Fatalf("a new instance's report package: %d", code)
	}
	r3 := newBrowser(t, c)
	r3.login(tokRev1)
	if _, body := r3.get("/review"); !strings.Contains(body, "Nothing to review") {
		t.Error("the reported account is queued again on a new instance")
	}
}
