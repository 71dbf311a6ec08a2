package service

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vouchsafe/vouchsafe/derivative"
	"github.com/vouchsafe/vouchsafe/internal/recon/secondhash"
	"github.com/vouchsafe/vouchsafe/internal/recon/store"
	"github.com/vouchsafe/vouchsafe/pdq"
)

// Reviewer tokens, added to the fixture's tokens file.
const (
	tokRev1 = "reviewer-one-token-0123"
	tokRev2 = "reviewer-two-token-4567"
)

const reviewTokens = testTokens + `rev1 reviewer ` + tokRev1 + `
rev2 reviewer ` + tokRev2 + `
`

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// reviewFixture is a fixture whose tokens file has two reviewers.
func reviewFixture(t testing.TB) *fixture {
	t.Helper()
	f := newFixture(t, "review", 1, 10)
	if err := os.WriteFile(f.tokensFile, []byte(reviewTokens), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// derivHashOf is the PDQ hash of the fixture's derivative.
func derivHashOf(t testing.TB, f *fixture) pdq.Hash {
	t.Helper()
	g, err := derivative.Decode(f.deriv)
	if err != nil {
		t.Fatal(err)
	}
	dh, _, err := pdq.FromImage(g)
	if err != nil {
		t.Fatal(err)
	}
	return dh
}

// secondHashOf is a PDQ list holding the fixture's derivative.
func secondHashOf(t testing.TB, f *fixture) *secondhash.List {
	t.Helper()
	list, err := secondhash.New([]pdq.Hash{derivHashOf(t, f)})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// reviewHarness is a service with alice and carol above the threshold
// (revealed in that order, a minute apart) and bob below it.
func reviewHarness(t testing.TB, quorum int) (*harness, *clock, *RevealView) {
	t.Helper()
	f := reviewFixture(t)
	clk := &clock{t: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)}
	h := newHarness(t, f, func(c *Config) {
		c.Now, c.ReviewQuorum, c.SecondHash = clk.now, quorum, secondHashOf(t, f)
	})
	alice, bob, carol := newAccount(t, "alice"), newAccount(t, "bob"), newAccount(t, "carol")
	up := func(acct, tok string, vs [][]byte) {
		if code, res := h.upload(acct, tok, vs); code != http.StatusOK || res.Rejected != 0 {
			t.Fatalf("upload %s: %d %+v", acct, code, res)
		}
	}
	up("alice", tokAlice, f.vouchers(t, alice, 0, 0, 8, 3, 0.25, "alice"))
	up("bob", tokBob, f.vouchers(t, bob, 0, 0, 2, 3, 0, "bob"))
	up("carol", tokGate, f.vouchers(t, carol, 0, 3, 4, 0, 0, "carol"))
	var av *RevealView
	for _, a := range []string{"alice", "bob", "carol"} {
		clk.advance(time.Minute)
		if code, b := h.do("POST", "/v1/accounts/"+a+"/reveal", tokOps, "", nil); code != http.StatusOK {
			t.Fatalf("reveal %s: %d %s", a, code, b)
		}
		if _, rv := h.account(a); (a == "bob") == rv.AboveThreshold {
			t.Fatalf("%s: above threshold %v", a, rv.AboveThreshold)
		} else if a == "alice" {
			av = rv
		}
	}
	if len(av.Revealed) < 4 || len(av.SyntheticIDs) == 0 {
		t.Fatalf("alice: %d revealed, %d synthetic; want at least 4 and some", len(av.Revealed), len(av.SyntheticIDs))
	}
	return h, clk, av
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, standing in for a reviewer's browser.
type browser struct {
	t    testing.TB
	h    *harness
	c    *http.Client
	csrf string
}

func newBrowser(t testing.TB, h *harness) *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: t, h: h, c: c}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest("GET", b.h.http.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form with the page's CSRF token unless csrf is false.
func (b *browser) post(path string, form url.Values, csrf bool) (*http.Response, string) {
	b.t.Helper()
	if form = maps.Clone(form); form == nil {
		form = url.Values{}
	}
	if csrf {
		form.Set("csrf", b.csrf)
	}
	req, err := http.NewRequest("POST", b.h.http.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.h.http.URL)
	return b.do(req)
}

// login opens the log-in page and sends token; it returns the answer's
// status.
func (b *browser) login(token string) int {
	b.t.Helper()
	if resp, _ := b.get("/review/login"); resp.StatusCode != http.StatusOK {
		b.t.Fatalf("log-in page: %d", resp.StatusCode)
	}
	resp, _ := b.post("/review/login", url.Values{"token": {token}}, true)
	return resp.StatusCode
}

func wantCode(t *testing.T, what string, resp *http.Response, body string, code int) {
	t.Helper()
	if resp.StatusCode != code {
		t.Fatalf("%s: %d, want %d\n%.600s", what, resp.StatusCode, code, body)
	}
}

func auditOf(t *testing.T, h *harness) []store.AuditEntry {
	t.Helper()
	code, b := h.do("GET", "/v1/audit", tokOps, "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /v1/audit: %d %s", code, b)
	}
	var out []store.AuditEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var e store.AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func TestReviewLoginAndRoles(t *testing.T) {
	h, _, _ := reviewHarness(t, 1)
	b := newBrowser(t, h)

	resp, _ := b.get("/review")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/review/login" {
		t.Fatalf("anonymous queue: %d to %q, want a redirect to the log-in page", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := b.get("/review/login")
	for k, v := range map[string]string{
		"Content-Security-Policy": reviewCSP, "X-Frame-Options": "DENY", "Cache-Control": "no-store",
		"X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8",
	} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "style=") {
		t.Error("the log-in page has a script or an inline style")
	}

	// Ingest and operator tokens and unknown ones get no session.
	for _, c := range []struct {
		tok  string
		code int
	}{{tokAlice, 403}, {tokGate, 403}, {tokOps, 403}, {"not-a-token-at-all-xx", 401}} {
		b := newBrowser(t, h)
		if got := b.login(c.tok); got != c.code {
			t.Errorf("log-in with %.8s…: %d, want %d", c.tok, got, c.code)
		}
		if resp, _ := b.get("/review"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("after log-in with %.8s…: queue answered %d", c.tok, resp.StatusCode)
		}
	}
	// A bearer token does not open the pages either.
	for _, tok := range []string{tokOps, tokRev1} {
		req, _ := http.NewRequest("GET", h.http.URL+"/review", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp, _ := newBrowser(t, h).do(req); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("a bearer token (%.8s…) opened the queue: %d", tok, resp.StatusCode)
		}
	}

	// A log-in form without its CSRF token, or from another origin, fails.
	b.get("/review/login")
	if resp, _ := b.post("/review/login", url.Values{"token": {tokRev1}}, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("log-in without CSRF token: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", h.http.URL+"/review/login", strings.NewReader(url.Values{"token": {tokRev1}, "csrf": {b.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, _ := b.do(req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin log-in: %d", resp.StatusCode)
	}

	// A reviewer logs in: the session cookie is HttpOnly, SameSite=Strict,
	// expires, and is not Secure over plain HTTP.
	b.get("/review/login")
	resp, _ = b.post("/review/login", url.Values{"token": {tokRev1}}, true)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/review" {
		t.Fatalf("reviewer log-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Secure || sc.MaxAge != int(DefaultSessionTTL/time.Second) {
		t.Fatalf("session cookie %+v", sc)
	}
	if resp, body := b.get("/review"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "rev1") {
		t.Fatalf("queue after log-in: %d", resp.StatusCode)
	}
	// Log-out ends the session on the server, not only in the browser.
	if resp, _ := b.post("/review/logout", nil, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("log-out without CSRF token: %d", resp.StatusCode)
	}
	if resp, _ := b.post("/review/logout", nil, true); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("log-out: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("GET", h.http.URL+"/review", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: sc.Value})
	if resp, _ := b.do(req); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the old session cookie still opens the queue: %d", resp.StatusCode)
	}
}

func TestReviewSessionExpires(t *testing.T) {
	h, clk, _ := reviewHarness(t, 1)
	b := newBrowser(t, h)
	if code := b.login(tokRev1); code != http.StatusSeeOther {
		t.Fatal(code)
	}
	clk.advance(DefaultSessionTTL - time.Second)
	if resp, _ := b.get("/review"); resp.StatusCode != http.StatusOK {
		t.Fatalf("before expiry: %d", resp.StatusCode)
	}
	clk.advance(time.Second)
	// The browser would drop the cookie itself; the server must not rely on it.
	if resp, _ := b.get("/review"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after expiry: %d", resp.StatusCode)
	}
}

func TestReviewDecisions(t *testing.T) {
	h, _, av := reviewHarness(t, 1)
	b := newBrowser(t, h)
	if code := b.login(tokRev1); code != http.StatusSeeOther {
		t.Fatal(code)
	}

	// The queue: alice then carol (oldest reveal first), not bob.
	resp, body := b.get("/review")
	wantCode(t, "queue", resp, body, 200)
	ia, ic := strings.Index(body, ">alice<"), strings.Index(body, ">carol<")
	if ia < 0 || ic < 0 || ia > ic || strings.Contains(body, ">bob<") {
		t.Fatalf("queue order: alice at %d, carol at %d, bob listed: %v", ia, ic, strings.Contains(body, ">bob<"))
	}

	// The account page shows every revealed match with its facts.
	resp, body = b.get("/review/accounts/alice")
	wantCode(t, "account page", resp, body, 200)
	for _, m := range av.Revealed {
		for _, want := range []string{m.ID, m.Hash, "/review/accounts/alice/matches/" + m.ID + "/image"} {
			if !strings.Contains(body, want) {
				t.Errorf("account page lacks %q", want)
			}
		}
	}
	for _, want := range []string{
		fmt.Sprintf("<dt>Synthetic vouchers</dt><dd>%d", len(av.SyntheticIDs)),
		"<dt>Epoch</dt><dd>1 ", "<strong class=\"ok\">confirmed</strong>, distance 0 of at most 31",
		`<details class="reveal">`, `class="deriv"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	if resp, _ := b.get("/review/accounts/bob"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("below-threshold account page: %d", resp.StatusCode)
	}
	if resp, _ := b.get("/review/accounts/%2e%2e"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad account name: %d", resp.StatusCode)
	}

	// Derivatives: PNG, no-store, to a review session only.
	m1, m2 := av.Revealed[0].ID, av.Revealed[1].ID
	img := "/review/accounts/alice/matches/" + m1 + "/image"
	resp, body = b.get(img)
	wantCode(t, "derivative", resp, body, 200)
	if resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("derivative headers %v", resp.Header)
	}
	if _, err := png.Decode(strings.NewReader(body)); err != nil {
		t.Errorf("derivative is not a PNG: %v", err)
	}
	for _, tok := range []string{"", tokOps, tokAlice} {
		if code, _ := h.do("GET", img, tok, "", nil); code != http.StatusForbidden {
			t.Errorf("derivative with bearer %.8q: %d, want 403", tok, code)
		}
	}
	if resp, _ := b.get("/review/accounts/alice/matches/" + strings.Repeat("0", 32) + "/image"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown derivative: %d", resp.StatusCode)
	}

	// Refused forms record nothing.
	confirm := url.Values{"decision": {"confirm"}}
	mpath := "/review/accounts/alice/matches/"
	refused := []struct {
		what string
		path string
		form url.Values
		csrf bool
		code int
	}{
		{"no CSRF token", mpath + m1, confirm, false, 403},
		{"unknown decision", mpath + m1, url.Values{"decision": {"maybe"}}, true, 400},
		{"reject without reason", mpath + m2, url.Values{"decision": {"reject"}, "reason": {"  "}}, true, 400},
		{"long reason", mpath + m2, url.Values{"decision": {"reject"}, "reason": {strings.Repeat("x", store.MaxReason+1)}}, true, 400},
		{"reason not UTF-8", "/review/accounts/alice", url.Values{"decision": {"dismiss"}, "reason": {"\xc3"}}, true, 400},
		{"unknown match", mpath + strings.Repeat("ab", 16), confirm, true, 409},
		{"below-threshold account", "/review/accounts/bob/matches/" + m1, confirm, true, 404},
		{"report with nothing confirmed", "/review/accounts/alice", url.Values{"decision": {"report"}}, true, 409},
		{"account decision on a match", "/review/accounts/alice", confirm, true, 400},
	}
	for _, c := range refused {
		resp, body := b.post(c.path, c.form, c.csrf)
		wantCode(t, c.what, resp, body, c.code)
	}
	req, _ := http.NewRequest("POST", h.http.URL+mpath+m1, strings.NewReader(url.Values{"decision": {"confirm"}, "csrf": {b.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, _ := b.do(req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site form: %d", resp.StatusCode)
	}
	// Another reviewer's CSRF token is refused too.
	b2 := newBrowser(t, h)
	b2.login(tokRev2)
	b2.get("/review")
	if b2.csrf == b.csrf || b2.csrf == "" {
		t.Fatal("two sessions share a CSRF token")
	}
	mine := b.csrf
	b2.csrf = mine
	if resp, _ := b2.post(mpath+m1, confirm, true); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another session's CSRF token: %d", resp.StatusCode)
	}
	b.csrf = mine
	if got := auditOf(t, h); len(got) != 0 {
		t.Fatalf("refused forms were recorded: %+v", got)
	}

	// Confirm one match, reject another, report the account.
	resp, body = b.post(mpath+m1, confirm, true)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/review/accounts/alice#m-"+m1 {
		t.Fatalf("confirm: %d to %q\n%.500s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	resp, body = b.post(mpath+m2, url.Values{"decision": {"reject"}, "reason": {" a holiday photo "}}, true)
	wantCode(t, "reject", resp, body, 303)
	_, body = b.get("/review/accounts/alice")
	if strings.Count(body, `class="status confirmed"`) != 1 || strings.Count(body, `class="status rejected"`) != 1 {
		t.Errorf("account page does not show one confirmed and one rejected match")
	}
	if code, b := h.do("GET", "/v1/accounts/alice/report", tokOps, "", nil); code != http.StatusConflict {
		t.Errorf("report package before the report: %d %s", code, b)
	}
	resp, body = b.post("/review/accounts/alice", url.Values{"decision": {"report"}, "reason": {"one confirmed"}}, true)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/review" {
		t.Fatalf("report: %d %.500s", resp.StatusCode, body)
	}
	resp, body = b.post("/review/accounts/carol", url.Values{"decision": {"dismiss"}}, true)
	wantCode(t, "dismiss carol", resp, body, 303)

	// Both leave the queue; decisions on them are refused.
	_, body = b.get("/review")
	if strings.Contains(body, ">alice<") || strings.Contains(body, ">carol<") || !strings.Contains(body, "Nothing to review") {
		t.Error("decided accounts are still queued")
	}
	if resp, body := b.post(mpath+av.Revealed[2].ID, confirm, true); resp.StatusCode != http.StatusConflict {
		t.Errorf("decision after the report: %d %.300s", resp.StatusCode, body)
	}

	// The audit log: who, when, what, why; as JSON Lines and on the page.
	log := auditOf(t, h)
	want := []store.AuditEntry{
		{Reviewer: "rev1", Account: "alice", Match: m1, Decision: store.Confirm},
		{Reviewer: "rev1", Account: "alice", Match: m2, Decision: store.Reject, Reason: "a holiday photo"},
		{Reviewer: "rev1", Account: "alice", Decision: store.Report, Reason: "one confirmed"},
		{Reviewer: "rev1", Account: "carol", Decision: store.Dismiss},
	}
	if len(log) != len(want) {
		t.Fatalf("audit log %+v", log)
	}
	for i := range want {
		want[i].Seq, want[i].At = uint64(i+1), time.Date(2026, 12, 4, 9, 3, 0, 0, time.UTC)
		if log[i].At.Equal(want[i].At) {
			log[i].At = want[i].At // the same instant; the Location may differ
		}
		if log[i] != want[i] {
			t.Errorf("audit entry %d: %+v, want %+v", i, log[i], want[i])
		}
	}
	if code, b := h.do("GET", "/v1/audit?after=3", tokRev2, "", nil); code != 200 || bytes.Count(b, []byte("\n")) != 1 || !bytes.Contains(b, []byte(`"decision":"dismiss"`)) {
		t.Errorf("audit after 3: %d %s", code, b)
	}
	for _, c := range []struct {
		tok  string
		code int
	}{{tokAlice, 403}, {"", 401}} {
		if code, _ := h.do("GET", "/v1/audit", c.tok, "", nil); code != c.code {
			t.Errorf("audit with %.8q: %d, want %d", c.tok, code, c.code)
		}
	}
	if code, _ := h.do("GET", "/v1/audit?after=x", tokOps, "", nil); code != http.StatusBadRequest {
		t.Errorf("audit after=x: %d", code)
	}
	if resp, body := b.get("/v1/audit"); resp.StatusCode != 200 || strings.Count(body, "\n") != 4 {
		t.Errorf("audit export with the session: %d %q", resp.StatusCode, body)
	}
	resp, body = b.get("/review/audit")
	wantCode(t, "audit page", resp, body, 200)
	for _, s := range []string{"a holiday photo", m1, ">report<", ">dismiss<"} {
		if !strings.Contains(body, s) {
			t.Errorf("audit page lacks %q", s)
		}
	}

	// The report package: the confirmed match only, with its decisions.
	code, rb := h.do("GET", "/v1/accounts/alice/report", tokRev2, "", nil)
	if code != http.StatusOK {
		t.Fatalf("report package: %d %s", code, rb)
	}
	var rp ReportPackage
	if err := json.Unmarshal(rb, &rp); err != nil {
		t.Fatal(err)
	}
	r0 := av.Revealed[0]
	if rp.Account != "alice" || rp.ReportedBy != "rev1" || rp.Reason != "one confirmed" || rp.Quorum != 1 ||
		len(rp.Matches) != 1 || len(rp.Decisions) != 3 {
		t.Fatalf("report package %+v", rp)
	}
	if m := rp.Matches[0]; m.ID != m1 || m.Hash != r0.Hash || m.Derivative != r0.Derivative || m.DerivativePNG != r0.DerivativePNG ||
		m.Epoch != 1 || m.SecondHash == nil || !m.SecondHash.Confirmed || !slices.Equal(m.ConfirmedBy, []string{"rev1"}) || len(m.Decisions) != 1 {
		t.Fatalf("report match %+v", m)
	}
	for _, c := range []struct {
		acct, tok string
		code      int
	}{{"carol", tokOps, 409}, {"bob", tokOps, 404}, {"alice", tokAlice, 403}, {"zed", tokOps, 404}} {
		if code, b := h.do("GET", "/v1/accounts/"+c.acct+"/report", c.tok, "", nil); code != c.code {
			t.Errorf("report of %s: %d %s, want %d", c.acct, code, b, c.code)
		}
	}

	// Decisions survive a restart: a new service over the reopened store.
	h.http.Close()
	if err := h.st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(h.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.st = st
	cfg := h.svc.cfg
	cfg.Store, cfg.Review = st, nil
	if h.svc, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	h.http = httptest.NewServer(h.svc)
	if got := auditOf(t, h); len(got) != len(log) || got[3].Seq != 4 {
		t.Fatalf("after a restart the audit log is %+v", got)
	}
	if code, b := h.do("GET", "/v1/accounts/alice/report", tokOps, "", nil); code != http.StatusOK || !bytes.Equal(b, rb) {
		t.Fatalf("report package after a restart: %d", code)
	}
	b = newBrowser(t, h)
	b.login(tokRev1)
	if _, body := b.get("/review"); !strings.Contains(body, "Nothing to review") {
		t.Error("decided accounts are queued again after a restart")
	}
}

// TestReviewQuorum: with --review-quorum 2 a match counts as confirmed,
// and the account can be reported, only once two different reviewers
// confirmed it; any rejection blocks it.
func TestReviewQuorum(t *testing.T) {
	h, _, av := reviewHarness(t, 2)
	r1, r2 := newBrowser(t, h), newBrowser(t, h)
	r1.login(tokRev1)
	r2.login(tokRev2)
	r1.get("/review")
	r2.get("/review")
	m1, m2 := av.Revealed[0].ID, av.Revealed[1].ID
	decide := func(b *browser, m, d, reason string) {
		t.Helper()
		if resp, body := b.post("/review/accounts/alice/matches/"+m, url.Values{"decision": {d}, "reason": {reason}}, true); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s %s: %d %.300s", d, m, resp.StatusCode, body)
		}
	}
	report := url.Values{"decision": {"report"}}
	decide(r1, m1, "confirm", "")
	decide(r1, m1, "confirm", "") // the same reviewer twice is still one
	if resp, _ := r1.post("/review/accounts/alice", report, true); resp.StatusCode != http.StatusConflict {
		t.Fatalf("report with one reviewer's confirmation: %d", resp.StatusCode)
	}
	// A second reviewer rejects m2 after the first confirmed it: blocked.
	decide(r1, m2, "confirm", "")
	decide(r2, m2, "reject", "not the same picture")
	decide(r2, m1, "confirm", "")
	_, body := r2.get("/review/accounts/alice")
	if strings.Count(body, `class="status confirmed"`) != 1 || strings.Count(body, `class="status rejected"`) != 1 {
		t.Fatal("want m1 confirmed and m2 rejected")
	}
	if resp, body := r2.post("/review/accounts/alice", report, true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("report: %d %.300s", resp.StatusCode, body)
	}
	code, b := h.do("GET", "/v1/accounts/alice/report", tokOps, "", nil)
	var rp ReportPackage
	if code != 200 || json.Unmarshal(b, &rp) != nil {
		t.Fatalf("report package: %d %s", code, b)
	}
	if rp.Quorum != 2 || len(rp.Matches) != 1 || rp.Matches[0].ID != m1 || !slices.Equal(rp.Matches[0].ConfirmedBy, []string{"rev1", "rev2"}) {
		t.Fatalf("report package %+v", rp)
	}
}

// TestReviewStaleDecision: a decision checked against an account's log is
// not appended after an entry it did not see.
func TestReviewStaleDecision(t *testing.T) {
	h, clk, av := reviewHarness(t, 1)
	ctx := t.Context()
	e := store.AuditEntry{At: clk.now(), Reviewer: "rev1", Account: "alice", Match: av.Revealed[0].ID, Decision: store.Confirm}
	first, err := h.svc.review.store.AppendAudit(ctx, e, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.Reviewer = "rev2"
	if _, err := h.svc.review.store.AppendAudit(ctx, e, 0); err != store.ErrAuditConflict {
		t.Fatalf("stale append: %v", err)
	}
	if _, err := h.svc.review.store.AppendAudit(ctx, e, first.Seq); err != nil {
		t.Fatal(err)
	}
}

func TestParseTokensReviewer(t *testing.T) {
	tk, err := ParseTokens(strings.NewReader("r reviewer " + tokRev1 + "\n"))
	if err != nil || tk.Lookup(tokRev1).Role != RoleReviewer {
		t.Fatalf("%v", err)
	}
	if _, err := ParseTokens(strings.NewReader("r reviewer " + tokRev1 + " alice\n")); err == nil || !strings.Contains(err.Error(), "reviewer \"r\" takes no accounts") {
		t.Fatalf("reviewer with accounts: %v", err)
	}
	if _, err := ParseTokens(strings.NewReader("r admin " + tokRev1 + "\n")); err == nil || !strings.Contains(err.Error(), "want ingest, operator or reviewer") {
		t.Fatalf("unknown role: %v", err)
	}
}

// FuzzReviewForm posts arbitrary decision forms: no input makes the
// service fail (5xx), and whatever it records is a valid entry that names a
// revealed match of the account.
func FuzzReviewForm(f *testing.F) {
	h, _, av := reviewHarness(f, 1)
	b := newBrowser(f, h)
	if code := b.login(tokRev1); code != http.StatusSeeOther {
		f.Fatal(code)
	}
	b.get("/review")
	revealed := map[string]bool{}
	for _, m := range av.Revealed {
		revealed[m.ID] = true
	}
	f.Add("alice", av.Revealed[0].ID, "confirm", "", true)
	f.Add("alice", av.Revealed[1].ID, "reject", "not it", true)
	f.Add("alice", av.Revealed[1].ID, "reject", "", true)
	f.Add("alice", "", "report", "x", true)
	f.Add("carol", "", "dismiss", "", false)
	f.Add("..", "%2e", "confirm\x00", "\xff", true)
	f.Fuzz(func(t *testing.T, account, match, decision, reason string, csrf bool) {
		b.t, h.t = t, t
		path := "/review/accounts/" + url.PathEscape(account)
		if match != "" {
			path += "/matches/" + url.PathEscape(match)
		}
		before := len(auditOf(t, h))
		resp, body := b.post(path, url.Values{"decision": {decision}, "reason": {reason}}, csrf)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s: %d\n%.300s", path, resp.StatusCode, body)
		}
		log := auditOf(t, h)
		if len(log) == before {
			return
		}
		if len(log) != before+1 || resp.StatusCode != http.StatusSeeOther || !csrf {
			t.Fatalf("%s answered %d and the log grew from %d to %d", path, resp.StatusCode, before, len(log))
		}
		e := log[before]
		if err := store.CheckAuditEntry(&e); err != nil {
			t.Fatal(err)
		}
		if e.Match != "" && (e.Account != "alice" || !revealed[e.Match]) {
			t.Fatalf("recorded a decision on %s/%s, which was not revealed", e.Account, e.Match)
		}
		if e.Decision == store.Reject && e.Reason == "" {
			t.Fatal("recorded a rejection without a reason")
		}
	})
}

// TestReviewSecureCookieOverTLS: over HTTPS the session cookie is Secure.
func TestReviewSecureCookieOverTLS(t *testing.T) {
	h, _, _ := reviewHarness(t, 1)
	ts := httptest.NewTLSServer(h.svc)
	defer ts.Close()
	b := newBrowser(t, h)
	jar := b.c.Jar
	b.c = ts.Client()
	b.c.Jar, b.c.CheckRedirect = jar, func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	plain := h.http
	h.http = ts // b.get and b.post use h.http.URL
	defer func() { h.http = plain }()
	b.get("/review/login")
	resp, body := b.post("/review/login", url.Values{"token": {tokRev1}}, true)
	wantCode(t, "log-in over TLS", resp, body, http.StatusSeeOther)
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie && (!c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode) {
			t.Fatalf("session cookie over TLS: %+v", c)
		}
		if c.Name == sessionCookie {
			return
		}
	}
	t.Fatal("no session cookie")
}
