package service

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/vouchsafe/vouchsafe/derivative"
	"github.com/vouchsafe/vouchsafe/internal/recon/store"
	"github.com/vouchsafe/vouchsafe/pdq"
	"github.com/vouchsafe/vouchsafe/psi"
)

// chromiumPath finds a Chromium: $VOUCHSAFE_CHROMIUM, else the usual names.
func chromiumPath() string {
	if p := os.Getenv("VOUCHSAFE_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// photoDerivatives makes visual derivatives of the sample photos, so that
// the screenshots show what a reviewer would see.
func photoDerivatives(t *testing.T, names ...string) [][]byte {
	t.Helper()
	enc, err := derivative.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "photos", n))
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		d, err := enc.Encode(img, testParams.MaxDerivative())
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		out = append(out, d)
	}
	return out
}

// browserSession drives one headless Chromium tab.
type browserSession struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string // screenshot folder
}

// load runs steps that make the page navigate (a link, a form) and waits
// for the new page to load.
func (b *browserSession) load(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	loaded := chromedp.Events(b.ctx, page.LoadEventFired)
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
	for _, err := range loaded {
		if err != nil {
			b.t.Fatal(err)
		}
		return
	}
	b.t.Fatal("no page load")
}

func (b *browserSession) open(path string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(b.base+path)); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browserSession) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression through DevTools (the pages
// themselves run no script).
func eval[T any](b *browserSession, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func (b *browserSession) path() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return strings.TrimPrefix(loc, b.base)
}

func (b *browserSession) h1() string {
	return eval[string](b, `document.querySelector("h1").textContent`)
}

// screenshot saves the whole page as a PNG; viewport saves what the
// window shows.
func (b *browserSession) screenshot(name string) { b.save(name, chromedp.FullScreenshot(100)) }

func (b *browserSession) viewport(name string) { b.save(name, chromedp.CaptureScreenshot()) }

func (b *browserSession) save(name string, shot chromedp.Action[[]byte]) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, shot)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shot, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// a11y checks the current page for basic accessibility: a language, one
// h1, a label for every control, a name for every button, link and
// summary, an alt text for every image, unique ids, and no script.
func (b *browserSession) a11y() {
	b.t.Helper()
	problems := eval[[]string](b, `(() => {
		const p = [];
		if (!document.documentElement.lang) p.push("no lang on <html>");
		if (document.querySelectorAll("h1").length !== 1) p.push("not exactly one h1");
		for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea"))
			if (!el.labels || el.labels.length === 0 || !el.labels[0].textContent.trim()) p.push("unlabelled control " + (el.id || el.name));
		for (const el of document.querySelectorAll("button, a, summary"))
			if (!el.textContent.trim() && !el.getAttribute("aria-label")) p.push("nameless " + el.tagName);
		for (const el of document.querySelectorAll("img"))
			if (!el.alt) p.push("image without alt text");
		const ids = new Set();
		for (const el of document.querySelectorAll("[id]")) { if (ids.has(el.id)) p.push("duplicate id " + el.id); ids.add(el.id); }
		if (document.querySelectorAll("script, [style]").length) p.push("script or inline style");
		return p;
	})()`)
	if len(problems) > 0 {
		b.t.Errorf("%s: accessibility: %v", b.path(), problems)
	}
}

// tabTo presses Tab until the focused element matches the CSS selector,
// checking that the keyboard reaches it; it fails after 60 presses.
func (b *browserSession) tabTo(sel string) {
	b.t.Helper()
	for range 60 {
		b.do(chromedp.KeyEvent(kb.Tab))
		if eval[bool](b, fmt.Sprintf(`document.activeElement && document.activeElement.matches(%q)`, sel)) {
			return
		}
	}
	b.t.Fatalf("%s: Tab never reaches %s", b.path(), sel)
}

func TestReviewBrowser(t *testing.T) {
	chrome := chromiumPath()
	if chrome == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Chromium on PATH; .ci/run installs Debian's chromium")
		}
		t.Skip("no Chromium on PATH (apt-get install chromium)")
	}
	bin := buildVouchsafe(t)
	f := reviewFixture(t)

	// Alice's matches carry derivatives of real photos; the PDQ list holds
	// all but the last, so one second-hash verdict is negative.
	derivs := photoDerivatives(t, "chelsea.png", "coffee.png", "astronaut.png", "horse.png", "rocket.jpg", "camera.png", "brick.png", "clock_motion.png")
	var list strings.Builder
	for _, d := range derivs[:len(derivs)-1] {
		g, err := derivative.Decode(d)
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := pdq.FromImage(g)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&list, h)
	}
	pdqFile := filepath.Join(f.dir, "db.pdq")
	if err := os.WriteFile(pdqFile, []byte(list.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	alice := newAccount(t, "alice")
	c, err := psi.NewClient(f.epochs[0].table, alice, &psi.ClientOptions{SyntheticRate: 0.25, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var trs []psi.Triple
	for i := range derivs {
		trs = append(trs, psi.Triple{Hash: f.epochs[0].members[i], ID: idN("alice", i), Derivative: derivs[i]})
	}
	for i := range 3 {
		trs = append(trs, psi.Triple{Hash: hashN("alice/non", i), ID: idN("alice/non", i), Derivative: derivs[0]})
	}
	va, err := c.Vouchers(drbg("alice/vouchers"), trs)
	if err != nil {
		t.Fatal(err)
	}

	// A real serve over loopback with a real store.
	storePath := filepath.Join(t.TempDir(), "store.db")
	p := startServe(t, bin, "--store", storePath, "--key", f.epochs[0].keyFile, "--tokens", f.tokensFile,
		"--reveal-interval", "0", "--rate", "0", "--second-hash", pdqFile)
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.done
	})
	base := "http://" + p.addr
	api := func(method, path, tok, ctype string, body []byte) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	carol := newAccount(t, "carol")
	for _, u := range []struct {
		acct, tok string
		vs        [][]byte
	}{{"alice", tokAlice, va}, {"carol", tokGate, f.vouchers(t, carol, 0, 3, 4, 0, 0, "carol")}} {
		if code, b := api("POST", "/v1/accounts/"+u.acct+"/vouchers", u.tok, ContentTypeStream, streamOf(t, "", u.vs)); code != 200 {
			t.Fatalf("upload %s: %d %s", u.acct, code, b)
		}
		if code, b := api("POST", "/v1/accounts/"+u.acct+"/reveal", tokOps, "", nil); code != 200 {
			t.Fatalf("reveal %s: %d %s", u.acct, code, b)
		}
	}
	_, ab := api("GET", "/v1/accounts/alice", tokOps, "", nil)
	var av AccountView
	var rv RevealView
	if err := json.Unmarshal(ab, &av); err != nil || json.Unmarshal(av.LastReveal, &rv) != nil || !rv.AboveThreshold || len(rv.Revealed) < 3 {
		t.Fatalf("alice is not above the threshold: %s", ab)
	}
	m1, m2 := rv.Revealed[0].ID, rv.Revealed[1].ID

	// Headless Chromium with the flags of the issue and its own profile.
	shot := os.Getenv("VOUCHSAFE_SCREENSHOTS")
	if shot == "" {
		shot = t.ArtifactDir()
	}
	actx, cancel := chromedp.NewExecAllocator(t.Context(),
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 1250))
	defer cancel()
	// A bound on the whole session so that a hung browser fails the test
	// instead of the package's timeout; no step is timed.
	ctx, cancel := context.WithTimeout(actx, 3*time.Minute)
	defer cancel()
	ctx, cancel = chromedp.NewContext(ctx)
	defer cancel()
	b := &browserSession{t: t, ctx: ctx, base: base, shot: shot}

	// Anonymous: the queue sends to the log-in page.
	b.open("/review")
	if got := b.path(); got != "/review/login" {
		t.Fatalf("anonymous queue went to %s", got)
	}
	b.a11y()

	// An ingest token is refused and opens nothing.
	b.do(chromedp.SendKeys("#token", tokAlice, chromedp.NodeVisible))
	b.load(chromedp.KeyEvent(kb.Enter))
	if msg := eval[string](b, `document.querySelector(".error").textContent`); !strings.Contains(msg, "role is ingest") {
		t.Fatalf("ingest log-in: %q", msg)
	}
	b.screenshot("login-refused.png")
	b.open("/review")
	if got := b.path(); got != "/review/login" {
		t.Fatalf("after an ingest log-in the queue went to %s", got)
	}

	// The reviewer logs in with the keyboard: type the token, press Enter.
	b.do(chromedp.SendKeys("#token", tokRev1, chromedp.NodeVisible))
	b.load(chromedp.KeyEvent(kb.Enter))
	if got := b.path(); got != "/review" {
		t.Fatalf("reviewer log-in went to %s", got)
	}
	b.a11y()
	if q := eval[[]string](b, `[...document.querySelectorAll("tbody th a")].map(a => a.textContent)`); !slices.Equal(q, []string{"alice", "carol"}) {
		t.Fatalf("queue %v, want [alice carol]", q)
	}
	if eval[bool](b, `document.cookie.includes("vouchsafe_review")`) {
		t.Error("the session cookie is readable from the page (not HttpOnly)")
	}
	b.screenshot("queue.png")

	// The account page: every derivative loads, blurred and grey.
	b.load(chromedp.Click(`a[href="/review/accounts/alice"]`, chromedp.NodeVisible))
	b.a11y()
	if n := eval[int](b, `document.querySelectorAll("section.match").length`); n != len(rv.Revealed) {
		t.Fatalf("%d matches shown, want %d", n, len(rv.Revealed))
	}
	filters := `[...document.querySelectorAll("img.deriv")].map(i => i.complete && i.naturalWidth > 0 ? getComputedStyle(i).filter : "not loaded")`
	for i, fl := range eval[[]string](b, filters) {
		if !strings.Contains(fl, "grayscale(1)") || !strings.Contains(fl, "blur(") {
			t.Fatalf("derivative %d is shown with filter %q, want blurred and grey", i, fl)
		}
	}
	for _, s := range []string{"Synthetic vouchers", "PDQ second hash", "distance 0 of at most 31", "not confirmed", rv.Revealed[0].Hash, "Epoch"} {
		if !eval[bool](b, fmt.Sprintf(`document.body.textContent.includes(%q)`, s)) {
			t.Errorf("account page lacks %q", s)
		}
	}

	// Reveal the first image with the keyboard: Tab to its summary, Enter.
	// Only that one is unblurred.
	b.tabTo(`#m-` + m1 + ` summary`)
	b.do(chromedp.KeyEvent(kb.Enter))
	fl := eval[[]string](b, filters)
	if fl[0] != "none" {
		t.Fatalf("the revealed derivative has filter %q", fl[0])
	}
	for i, f := range fl[1:] {
		if !strings.Contains(f, "blur(") {
			t.Fatalf("derivative %d was revealed too (%q)", i+1, f)
		}
	}
	b.screenshot("account.png")
	b.viewport("account-top.png") // docs/review-console.png

	// Confirm match 1 with the keyboard (Tab to the button, Enter).
	b.tabTo(`#m-` + m1 + ` button.confirm`)
	b.load(chromedp.KeyEvent(kb.Enter))
	if got := eval[string](b, `document.querySelector("#m-`+m1+` .status").textContent`); got != "confirmed" {
		t.Fatalf("match 1 is %q after confirming", got)
	}
	// Reject match 2 with a reason.
	b.do(chromedp.SendKeys(`#reason-`+m2, "a holiday photo, not the listed image", chromedp.NodeVisible))
	b.load(chromedp.Click(`#m-`+m2+` button.reject`, chromedp.NodeVisible))
	if got := eval[string](b, `document.querySelector("#m-`+m2+` .status").textContent`); got != "rejected" {
		t.Fatalf("match 2 is %q after rejecting", got)
	}

	// A form without its CSRF token is refused and records nothing.
	b.load(chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.querySelector("input[name=decision][value=dismiss]").form;
		f.querySelector("input[name=csrf]").remove();
		f.submit();
	})()`))
	if got := b.h1(); got != "Refused" || !strings.Contains(eval[string](b, `document.body.textContent`), "CSRF") {
		t.Fatalf("form without CSRF token: page %q", got)
	}
	b.screenshot("csrf-refused.png")

	// Report the account: it leaves the queue.
	b.open("/review/accounts/alice")
	b.load(chromedp.Click(`button.report`, chromedp.NodeVisible))
	if got := b.path(); got != "/review" {
		t.Fatalf("report went to %s", got)
	}
	if q := eval[[]string](b, `[...document.querySelectorAll("tbody th a")].map(a => a.textContent)`); !slices.Equal(q, []string{"carol"}) {
		t.Fatalf("queue after the report %v, want [carol]", q)
	}

	// The audit page and the JSON Lines export.
	b.load(chromedp.Click(`a[href="/review/audit"]`, chromedp.NodeVisible))
	b.a11y()
	rows := eval[[]string](b, `[...document.querySelectorAll("tbody tr")].map(r => [...r.cells].slice(2).map(c => c.textContent).join("|"))`)
	want := []string{
		"rev1|alice||report|",
		"rev1|alice|" + m2 + "|reject|a holiday photo, not the listed image",
		"rev1|alice|" + m1 + "|confirm|",
	}
	if !slices.Equal(rows, want) {
		t.Fatalf("audit rows\n%q\nwant\n%q", rows, want)
	}
	b.screenshot("audit.png")
	// The export is a JSON Lines download: fetch the link with the
	// browser's own session cookie, whose attributes are checked first.
	if !eval[bool](b, `!!document.querySelector('a[href="/v1/audit"]')`) {
		t.Error("the audit page does not link the JSON Lines export")
	}
	cookies, err := chromedp.Run(ctx, chromedp.Action[[]*network.Cookie](func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		r, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/review"}})
		if err != nil {
			return nil, err
		}
		return r.Cookies, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	var sess *network.Cookie
	for _, c := range cookies {
		if c.Name == sessionCookie {
			sess = c
		}
	}
	if sess == nil || !sess.HTTPOnly || sess.SameSite != network.CookieSameSiteStrict || sess.Secure || sess.Session || sess.Path != "/" {
		t.Fatalf("session cookie in the browser: %+v", sess)
	}
	req, _ := http.NewRequest("GET", base+"/v1/audit", nil)
	req.AddCookie(&http.Cookie{Name: sess.Name, Value: sess.Value})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	export, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/jsonl; charset=utf-8" {
		t.Fatalf("audit export: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var log []store.AuditEntry
	sc := bufio.NewScanner(bytes.NewReader(export))
	for sc.Scan() {
		var e store.AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit export line %q: %v", sc.Text(), err)
		}
		log = append(log, e)
	}
	if len(log) != 3 || log[0].Match != m1 || log[1].Decision != store.Reject || log[2].Decision != store.Report || log[2].Reviewer != "rev1" {
		t.Fatalf("audit export %+v", log)
	}
	code, rb := api("GET", "/v1/accounts/alice/report", tokOps, "", nil)
	var rp ReportPackage
	if code != 200 || json.Unmarshal(rb, &rp) != nil || len(rp.Matches) != 1 || rp.Matches[0].ID != m1 || len(rp.Decisions) != 3 {
		t.Fatalf("report package: %d %.300s", code, rb)
	}

	// Log out: the pages and the derivatives are closed again.
	b.open("/review")
	b.load(chromedp.Click(`form.logout button`, chromedp.NodeVisible))
	if got := b.path(); got != "/review/login" {
		t.Fatalf("log-out went to %s", got)
	}
	b.open("/review/accounts/alice/matches/" + m1 + "/image")
	if got := eval[string](b, `document.body.innerText`); !strings.Contains(got, "review session required") {
		t.Fatalf("derivative after log-out: %q", got)
	}
	t.Logf("screenshots in %s", shot)
}
