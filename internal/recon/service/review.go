package service

// The human review console: nothing is reported until a reviewer has looked
// at the revealed visual derivatives and confirmed matches. Pages are
// rendered on the server (html/template, embedded, no scripts); decisions go
// to the append-only audit log of a store.ReviewStore, from which the state
// of every review is derived.
//
//	GET  /review                                    queue of undecided accounts above the threshold
//	GET  /review/login, POST /review/login          log in with a reviewer token
//	POST /review/logout
//	GET  /review/accounts/{account}                 revealed matches and decisions
//	POST /review/accounts/{account}                 report or dismiss the account
//	POST /review/accounts/{account}/matches/{match} confirm or reject a match
//	GET  /review/accounts/{account}/matches/{match}/image  the derivative (PNG)
//	GET  /review/audit                              the audit log
//	GET  /v1/audit                                  the audit log as JSON Lines
//	GET  /v1/accounts/{account}/report              an account's report package

import (
	"context"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vouchsafe/vouchsafe/internal/recon/secondhash"
	"github.com/vouchsafe/vouchsafe/internal/recon/store"
	"github.com/vouchsafe/vouchsafe/psi"
)

//go:embed review_templates
var reviewFS embed.FS

// Bounds of the console.
const (
	maxForm       = 64 << 10 // a decision form's body
	auditPageSize = 1000     // entries read from the store at a time
	auditShown    = 500      // newest entries on the audit page
)

// reviewCSP allows nothing but this server's style sheet, images and form
// targets: no scripts at all.
const reviewCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// review is the console's state within a Service.
type review struct {
	store    store.ReviewStore
	quorum   int
	sessions *sessions
	tmpl     *template.Template
	css      []byte
}

func (s *Service) registerReview() error {
	rs := s.cfg.Review
	if rs == nil {
		rs, _ = s.cfg.Store.(store.ReviewStore)
	}
	if rs == nil {
		return nil // a store without review support: no console
	}
	if s.cfg.ReviewQuorum < 0 || s.cfg.ReviewQuorum > 16 {
		return fmt.Errorf("service: review quorum %d is not between 1 and 16", s.cfg.ReviewQuorum)
	}
	ttl := s.cfg.SessionTTL
	if ttl < 0 {
		return fmt.Errorf("service: negative session lifetime %v", ttl)
	}
	if ttl == 0 {
		ttl = DefaultSessionTTL
	}
	tmpl, err := template.New("").Funcs(template.FuncMap{
		"inc":  func(i int) int { return i + 1 },
		"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	}).ParseFS(reviewFS, "review_templates/*.html")
	if err != nil {
		return fmt.Errorf("service: review templates: %w", err)
	}
	css, err := reviewFS.ReadFile("review_templates/review.css")
	if err != nil {
		return fmt.Errorf("service: review style sheet: %w", err)
	}
	s.review = &review{store: rs, quorum: max(s.cfg.ReviewQuorum, 1), sessions: newSessions(ttl), tmpl: tmpl, css: css}

	page := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			hd := w.Header()
			hd.Set("Content-Security-Policy", reviewCSP)
			hd.Set("X-Frame-Options", "DENY")
			hd.Set("X-Content-Type-Options", "nosniff")
			// same-origin, not no-referrer: with no-referrer browsers send "Origin: null",
			// which sameOrigin must refuse.
			hd.Set("Referrer-Policy", "same-origin")
			hd.Set("Cache-Control", "no-store")
			h(w, r)
		}
	}
	s.mux.HandleFunc("GET /review", page(s.handleQueue))
	s.mux.HandleFunc("GET /review/login", page(s.handleLoginForm))
	s.mux.HandleFunc("POST /review/login", page(s.handleLogin))
	s.mux.HandleFunc("POST /review/logout", page(s.handleLogout))
	s.mux.HandleFunc("GET /review/audit", page(s.handleAuditPage))
	s.mux.HandleFunc("GET /review/accounts/{account}", page(s.handleReviewAccount))
	s.mux.HandleFunc("POST /review/accounts/{account}", page(s.handleAccountDecision))
	s.mux.HandleFunc("POST /review/accounts/{account}/matches/{match}", page(s.handleMatchDecision))
	s.mux.HandleFunc("GET /review/accounts/{account}/matches/{match}/image", page(s.handleDerivative))
	s.mux.HandleFunc("GET /review/static/review.css", page(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Write(s.review.css)
	}))
	s.mux.HandleFunc("GET /v1/audit", page(s.handleAuditExport))
	s.mux.HandleFunc("GET /v1/accounts/{account}/report", page(s.handleReport))
	return nil
}

// pageData is what every page template gets.
type pageData struct {
	Title    string
	Reviewer string
	CSRF     string
	Data     any
}

func (s *Service) render(w http.ResponseWriter, code int, name string, p pageData) {
	var b strings.Builder
	if err := s.review.tmpl.ExecuteTemplate(&b, name, p); err != nil {
		s.m.inc(s.mErrors, 1, "template")
		s.log.Error("review template", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(b.String()))
}

// message renders a page that only says something (errors, refusals).
func (s *Service) message(w http.ResponseWriter, code int, sess *session, title, msg string) {
	p := pageData{Title: title, Data: msg}
	if sess != nil {
		p.Reviewer, p.CSRF = sess.reviewer, sess.csrf
	}
	s.render(w, code, "message", p)
}

// reviewerPage returns the session of a page request, or redirects to the
// log-in page and returns nil.
func (s *Service) reviewerPage(w http.ResponseWriter, r *http.Request) *session {
	sess, _ := s.session(r)
	if sess == nil {
		http.Redirect(w, r, "/review/login", http.StatusSeeOther)
	}
	return sess
}

// reviewerPost checks a form submission: a live session, the same origin,
// a bounded body and the session's CSRF token. It writes the refusal and
// returns nil when the request must stop.
func (s *Service) reviewerPost(w http.ResponseWriter, r *http.Request) *session {
	sess, _ := s.session(r)
	if sess == nil {
		s.message(w, http.StatusForbidden, nil, "Not logged in", "Your session has ended. Log in again; nothing was recorded.")
		return nil
	}
	if !sameOrigin(r) {
		s.message(w, http.StatusForbidden, sess, "Refused", "The form was not sent from this console; nothing was recorded.")
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		s.message(w, http.StatusBadRequest, sess, "Bad form", "The form could not be read; nothing was recorded.")
		return nil
	}
	if !sameToken(r.PostForm.Get("csrf"), sess.csrf) {
		s.message(w, http.StatusForbidden, sess, "Refused", "The form's CSRF token is missing or stale; reload the page. Nothing was recorded.")
		return nil
	}
	if s.limit != nil {
		if ok, wait := s.limit.allow(sess.reviewer, s.now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			s.message(w, http.StatusTooManyRequests, sess, "Too fast", "Too many decisions at once; wait a moment. Nothing was recorded.")
			return nil
		}
	}
	return sess
}

func (s *Service) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	if sess, _ := s.session(r); sess != nil {
		http.Redirect(w, r, "/review", http.StatusSeeOther)
		return
	}
	tok := randomToken()
	setCookie(w, r, loginCookie, tok, 15*time.Minute, s.now())
	s.render(w, http.StatusOK, "login", pageData{Title: "Log in", CSRF: tok})
}

func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		s.message(w, http.StatusForbidden, nil, "Refused", "The log-in form was not sent from this console.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	c, err := r.Cookie(loginCookie)
	if err != nil || r.ParseForm() != nil || !sameToken(r.PostForm.Get("csrf"), c.Value) {
		s.message(w, http.StatusForbidden, nil, "Refused", "The log-in form's CSRF token is missing or stale; open the log-in page again.")
		return
	}
	client := s.cfg.Tokens.Lookup(strings.TrimSpace(r.PostForm.Get("token")))
	switch {
	case client == nil:
		s.render(w, http.StatusUnauthorized, "login", pageData{Title: "Log in", CSRF: c.Value, Data: "Unknown token."})
		return
	case client.Role != RoleReviewer:
		s.log.Warn("review log-in refused", "client", client.Name, "role", client.Role)
		s.render(w, http.StatusForbidden, "login", pageData{Title: "Log in", CSRF: c.Value,
			Data: fmt.Sprintf("This token's role is %s: only reviewer tokens open the review console.", client.Role)})
		return
	}
	id, sess := s.review.sessions.create(client.Name, s.now())
	if sess == nil {
		s.message(w, http.StatusServiceUnavailable, nil, "Busy", "Too many open sessions; try again later.")
		return
	}
	setCookie(w, r, loginCookie, "", -1, s.now())
	setCookie(w, r, sessionCookie, id, s.review.sessions.ttl, s.now())
	s.log.Info("reviewer logged in", "reviewer", client.Name)
	http.Redirect(w, r, "/review", http.StatusSeeOther)
}

func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
	sess := s.reviewerPost(w, r)
	if sess == nil {
		return
	}
	_, id := s.session(r)
	s.review.sessions.remove(id)
	setCookie(w, r, sessionCookie, "", -1, s.now())
	s.log.Info("reviewer logged out", "reviewer", sess.reviewer)
	http.Redirect(w, r, "/review/login", http.StatusSeeOther)
}

// matchState is one revealed match's review, derived from the audit log.
type matchState struct {
	// Confirms and Rejects are the reviewers whose latest decision on the
	// match is that one.
	Confirms, Rejects []string
	Entries           []store.AuditEntry
}

// Status is "rejected" once any reviewer rejected the match, "confirmed"
// once quorum different reviewers confirmed it, and "pending" otherwise.
func (m *matchState) Status(quorum int) string {
	switch {
	case len(m.Rejects) > 0:
		return "rejected"
	case len(m.Confirms) >= quorum:
		return "confirmed"
	}
	return "pending"
}

// accountState is an account's review, derived from its audit entries.
type accountState struct {
	Entries []store.AuditEntry
	Last    uint64            // Seq of the newest entry, 0 if none
	Final   *store.AuditEntry // the report or dismissal, nil while open
	Matches map[string]*matchState
}

func deriveState(entries []store.AuditEntry) *accountState {
	st := &accountState{Entries: entries, Matches: map[string]*matchState{}}
	latest := map[[2]string]store.Decision{} // (match, reviewer) → decision
	for i := range entries {
		e := &entries[i]
		st.Last = e.Seq
		switch e.Decision {
		case store.Report, store.Dismiss:
			if st.Final == nil {
				st.Final = e
			}
		case store.Confirm, store.Reject:
			m := st.Matches[e.Match]
			if m == nil {
				m = &matchState{}
				st.Matches[e.Match] = m
			}
			m.Entries = append(m.Entries, *e)
			latest[[2]string{e.Match, e.Reviewer}] = e.Decision
		}
	}
	for k, d := range latest {
		m := st.Matches[k[0]]
		if d == store.Confirm {
			m.Confirms = append(m.Confirms, k[1])
		} else {
			m.Rejects = append(m.Rejects, k[1])
		}
	}
	for _, m := range st.Matches {
		slices.Sort(m.Confirms)
		slices.Sort(m.Rejects)
	}
	return st
}

func (st *accountState) match(id string) *matchState {
	if m := st.Matches[id]; m != nil {
		return m
	}
	return &matchState{}
}

// lastReveal returns an account's stored reveal result, or nil before the
// first reveal.
func (s *Service) lastReveal(ctx context.Context, account string) (*RevealView, error) {
	b, err := s.cfg.Store.Reveal(ctx, account)
	if err != nil || b == nil {
		return nil, err
	}
	var v RevealView
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("account %s: stored reveal: %w", account, err)
	}
	return &v, nil
}

// queueItem is one account waiting for a decision.
type queueItem struct {
	Account    string
	RevealedAt time.Time
	Revealed   int
	Confirmed  int
	Rejected   int
	Synthetic  int
}

func (s *Service) handleQueue(w http.ResponseWriter, r *http.Request) {
	sess := s.reviewerPage(w, r)
	if sess == nil {
		return
	}
	accounts, err := s.cfg.Store.Accounts(r.Context())
	if err != nil {
		s.pageStoreError(w, sess, err)
		return
	}
	var queue []queueItem
	for _, a := range accounts {
		v, err := s.lastReveal(r.Context(), a)
		if err != nil {
			s.pageStoreError(w, sess, err)
			return
		}
		if v == nil || !v.AboveThreshold {
			continue
		}
		entries, err := s.review.store.AccountAudit(r.Context(), a)
		if err != nil {
			s.pageStoreError(w, sess, err)
			return
		}
		st := deriveState(entries)
		if st.Final != nil {
			continue
		}
		q := queueItem{Account: a, RevealedAt: v.At, Revealed: len(v.Revealed), Synthetic: len(v.SyntheticIDs)}
		for _, m := range v.Revealed {
			switch st.match(m.ID).Status(s.review.quorum) {
			case "confirmed":
				q.Confirmed++
			case "rejected":
				q.Rejected++
			}
		}
		queue = append(queue, q)
	}
	// Oldest reveal first: the longest wait is served first.
	slices.SortStableFunc(queue, func(a, b queueItem) int { return a.RevealedAt.Compare(b.RevealedAt) })
	s.render(w, http.StatusOK, "queue", pageData{Title: "Queue", Reviewer: sess.reviewer, CSRF: sess.csrf,
		Data: map[string]any{"Queue": queue, "Quorum": s.review.quorum}})
}

// matchView is one revealed match on the account page and in the report.
type matchView struct {
	secondhash.RevealedView
	Epoch     uint64
	HasEpoch  bool
	Status    string
	Confirms  []string
	Rejects   []string
	Entries   []store.AuditEntry
	HasImage  bool
	MyVerdict store.Decision // the viewing reviewer's latest decision
}

// accountPage is the account page's data.
type accountPage struct {
	Account   string
	Counts    store.Counts
	Reveal    *RevealView
	Synthetic int
	Matches   []matchView
	Final     *store.AuditEntry
	Entries   []store.AuditEntry
	Quorum    int
	Confirmed int
	MayReport bool
}

// accountView loads an account's last reveal and its review. It returns
// nil (and no error) for an account with nothing revealed.
func (s *Service) accountView(ctx context.Context, account, reviewer string) (*accountPage, *accountState, error) {
	c, ok, err := s.cfg.Store.Counts(ctx, account)
	if err != nil || !ok {
		return nil, nil, err
	}
	v, err := s.lastReveal(ctx, account)
	if err != nil || v == nil || !v.AboveThreshold {
		return nil, nil, err
	}
	entries, err := s.review.store.AccountAudit(ctx, account)
	if err != nil {
		return nil, nil, err
	}
	st := deriveState(entries)
	p := &accountPage{Account: account, Counts: c, Reveal: v, Synthetic: len(v.SyntheticIDs),
		Final: st.Final, Entries: entries, Quorum: s.review.quorum}
	for _, rv := range v.Revealed {
		m := st.match(rv.ID)
		mv := matchView{RevealedView: rv, Status: m.Status(s.review.quorum), Confirms: m.Confirms,
			Rejects: m.Rejects, Entries: m.Entries, HasImage: rv.DerivativePNG != ""}
		if slices.Contains(m.Confirms, reviewer) {
			mv.MyVerdict = store.Confirm
		} else if slices.Contains(m.Rejects, reviewer) {
			mv.MyVerdict = store.Reject
		}
		var dbid psi.DBID
		if b, err := hex.DecodeString(rv.DBID); err == nil && len(b) == len(dbid) {
			copy(dbid[:], b)
			if k, ok := s.cfg.Server.Key(dbid); ok {
				mv.Epoch, mv.HasEpoch = k.Epoch(), true
			}
		}
		if mv.Status == "confirmed" {
			p.Confirmed++
		}
		p.Matches = append(p.Matches, mv)
	}
	p.MayReport = st.Final == nil && p.Confirmed > 0
	return p, st, nil
}

func (s *Service) handleReviewAccount(w http.ResponseWriter, r *http.Request) {
	sess := s.reviewerPage(w, r)
	if sess == nil {
		return
	}
	account := r.PathValue("account")
	if !ValidAccount(account) {
		s.message(w, http.StatusBadRequest, sess, "Bad account", "That is not a valid account name.")
		return
	}
	p, _, err := s.accountView(r.Context(), account, sess.reviewer)
	if err != nil {
		s.pageStoreError(w, sess, err)
		return
	}
	if p == nil {
		s.message(w, http.StatusNotFound, sess, "Nothing to review", "This account has no revealed matches.")
		return
	}
	s.render(w, http.StatusOK, "account", pageData{Title: "Account " + account, Reviewer: sess.reviewer, CSRF: sess.csrf, Data: p})
}

// decide appends a decision checked by check against the account's current
// review; it writes the answer.
func (s *Service) decide(w http.ResponseWriter, r *http.Request, sess *session, e store.AuditEntry, check func(*accountPage, *accountState) string, next string) {
	p, st, err := s.accountView(r.Context(), e.Account, sess.reviewer)
	if err != nil {
		s.pageStoreError(w, sess, err)
		return
	}
	if p == nil {
		s.message(w, http.StatusNotFound, sess, "Nothing to review", "This account has no revealed matches; nothing was recorded.")
		return
	}
	if st.Final != nil {
		s.message(w, http.StatusConflict, sess, "Already decided",
			fmt.Sprintf("This account was already %sed by %s; nothing was recorded.", st.Final.Decision, st.Final.Reviewer))
		return
	}
	if msg := check(p, st); msg != "" {
		s.message(w, http.StatusConflict, sess, "Refused", msg)
		return
	}
	e.At, e.Reviewer = s.now().UTC(), sess.reviewer
	if _, err := s.review.store.AppendAudit(r.Context(), e, st.Last); err != nil {
		if errors.Is(err, store.ErrAuditConflict) {
			s.message(w, http.StatusConflict, sess, "Changed meanwhile", "Another decision on this account was recorded meanwhile; reload the page and decide again. Nothing was recorded.")
			return
		}
		s.pageStoreError(w, sess, err)
		return
	}
	s.log.Info("review decision", "reviewer", e.Reviewer, "account", e.Account, "match", e.Match, "decision", e.Decision)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// formReason returns the trimmed reason of a decision form; ok is false
// for one too long or not UTF-8.
func formReason(r *http.Request) (reason string, ok bool) {
	reason = strings.TrimSpace(r.PostForm.Get("reason"))
	return reason, len(reason) <= store.MaxReason && utf8.ValidString(reason)
}

func (s *Service) handleMatchDecision(w http.ResponseWriter, r *http.Request) {
	sess := s.reviewerPost(w, r)
	if sess == nil {
		return
	}
	e, ok := s.decisionForm(w, r, sess, "A match is confirmed or rejected", store.Confirm, store.Reject)
	if !ok {
		return
	}
	if e.Decision == store.Reject && e.Reason == "" {
		s.message(w, http.StatusBadRequest, sess, "Reason needed", "Say why the match is rejected; nothing was recorded.")
		return
	}
	account, match := e.Account, r.PathValue("match")
	e.Match = match
	s.decide(w, r, sess, e, func(p *accountPage, _ *accountState) string {
		for _, m := range p.Matches {
			if m.ID == match {
				return ""
			}
		}
		return "This match is not among the account's revealed matches; nothing was recorded."
	}, "/review/accounts/"+account+"#m-"+match)
}

func (s *Service) handleAccountDecision(w http.ResponseWriter, r *http.Request) {
	sess := s.reviewerPost(w, r)
	if sess == nil {
		return
	}
	e, ok := s.decisionForm(w, r, sess, "An account is reported or dismissed", store.Report, store.Dismiss)
	if !ok {
		return
	}
	d := e.Decision
	s.decide(w, r, sess, e, func(p *accountPage, _ *accountState) string {
		if d == store.Report && p.Confirmed == 0 {
			if p.Quorum > 1 {
				return fmt.Sprintf("No match is confirmed by %d different reviewers yet, so there is nothing to report; nothing was recorded.", p.Quorum)
			}
			return "No match is confirmed yet, so there is nothing to report; nothing was recorded."
		}
		return ""
	}, "/review")
}

// decisionForm reads the account, decision and reason of a decision form,
// answering 400 (and returning false) when the account name is invalid, the
// decision is not one of allowed or the reason is not acceptable text.
func (s *Service) decisionForm(w http.ResponseWriter, r *http.Request, sess *session, which string, allowed ...store.Decision) (store.AuditEntry, bool) {
	account := r.PathValue("account")
	if !ValidAccount(account) {
		s.message(w, http.StatusBadRequest, sess, "Bad account", "That is not a valid account name; nothing was recorded.")
		return store.AuditEntry{}, false
	}
	d := store.Decision(r.PostForm.Get("decision"))
	reason, ok := formReason(r)
	switch {
	case !slices.Contains(allowed, d):
		s.message(w, http.StatusBadRequest, sess, "Bad decision", which+"; nothing was recorded.")
		return store.AuditEntry{}, false
	case !ok:
		s.message(w, http.StatusBadRequest, sess, "Bad reason", fmt.Sprintf("A reason is UTF-8 text of at most %d bytes; nothing was recorded.", store.MaxReason))
		return store.AuditEntry{}, false
	}
	return store.AuditEntry{Account: account, Decision: d, Reason: reason}, true
}

func (s *Service) handleDerivative(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.session(r)
	if sess == nil {
		// Derivatives go to logged-in reviewers only, never to a token.
		http.Error(w, "review session required", http.StatusForbidden)
		return
	}
	account, match := r.PathValue("account"), r.PathValue("match")
	if !ValidAccount(account) {
		http.Error(w, "invalid account name", http.StatusBadRequest)
		return
	}
	v, err := s.lastReveal(r.Context(), account)
	if err != nil {
		s.storeError(w, err)
		return
	}
	if v != nil && v.AboveThreshold {
		for _, m := range v.Revealed {
			if m.ID != match || m.DerivativePNG == "" {
				continue
			}
			b, err := base64.StdEncoding.DecodeString(m.DerivativePNG)
			if err != nil {
				break
			}
			w.Header().Set("Content-Type", "image/png")
			w.Write(b)
			return
		}
	}
	http.Error(w, "no such derivative", http.StatusNotFound)
}

func (s *Service) handleAuditPage(w http.ResponseWriter, r *http.Request) {
	sess := s.reviewerPage(w, r)
	if sess == nil {
		return
	}
	// The newest auditShown entries, newest first.
	var shown []store.AuditEntry
	total := 0
	for after := uint64(0); ; {
		page, err := s.review.store.Audit(r.Context(), after, auditPageSize)
		if err != nil {
			s.pageStoreError(w, sess, err)
			return
		}
		total += len(page)
		shown = append(shown, page...)
		if len(shown) > auditShown {
			shown = slices.Clone(shown[len(shown)-auditShown:])
		}
		if len(page) < auditPageSize {
			break
		}
		after = page[len(page)-1].Seq
	}
	slices.Reverse(shown)
	s.render(w, http.StatusOK, "audit", pageData{Title: "Audit log", Reviewer: sess.reviewer, CSRF: sess.csrf,
		Data: map[string]any{"Entries": shown, "Total": total}})
}

// readerOf authenticates a read of the audit log or a report: an operator
// or reviewer bearer token, or a reviewer session. It writes the refusal
// and returns "" when the request must stop.
func (s *Service) readerOf(w http.ResponseWriter, r *http.Request) string {
	if r.Header.Get("Authorization") == "" {
		if sess, _ := s.session(r); sess != nil {
			return sess.reviewer
		}
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	c := s.cfg.Tokens.Lookup(strings.TrimSpace(tok))
	if !ok || c == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vouchsafe"`)
		writeError(w, http.StatusUnauthorized, "missing or unknown bearer token")
		return ""
	}
	if s.limit != nil {
		if ok, wait := s.limit.allow(c.Name, s.now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			writeError(w, http.StatusTooManyRequests, "rate limit exceeded")
			return ""
		}
	}
	if c.Role != RoleOperator && c.Role != RoleReviewer {
		writeError(w, http.StatusForbidden, fmt.Sprintf("this token's role is %s", c.Role))
		return ""
	}
	return c.Name
}

// handleAuditExport writes the audit log as JSON Lines, oldest first, from
// the entry after ?after=SEQ.
func (s *Service) handleAuditExport(w http.ResponseWriter, r *http.Request) {
	if s.readerOf(w, r) == "" {
		return
	}
	var after uint64
	if a := r.URL.Query().Get("after"); a != "" {
		var err error
		if after, err = strconv.ParseUint(a, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, "after must be a sequence number")
			return
		}
	}
	w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
	started := false
	for {
		page, err := s.review.store.Audit(r.Context(), after, auditPageSize)
		if err != nil {
			if !started {
				s.storeError(w, err)
			} else {
				s.log.Error("audit export", "err", err) // the cut-off stream shows it
			}
			return
		}
		var b []byte
		for i := range page {
			line, err := json.Marshal(&page[i])
			if err != nil {
				s.log.Error("audit export", "err", err)
				return
			}
			b = append(append(b, line...), '\n')
		}
		if len(b) > 0 || !started {
			started = true
			if _, err := w.Write(b); err != nil {
				return
			}
		}
		if len(page) < auditPageSize {
			return
		}
		after = page[len(page)-1].Seq
	}
}

// ReportPackage is an account's report for the authority (GET
// /v1/accounts/{account}/report): its confirmed matches with everything a
// reviewer saw, and every decision taken on the account.
type ReportPackage struct {
	Account    string    `json:"account"`
	ReportedAt time.Time `json:"reported_at"`
	ReportedBy string    `json:"reported_by"`
	Reason     string    `json:"reason,omitempty"`
	// Quorum is the number of different reviewers who had to confirm each
	// match.
	Quorum     int                `json:"quorum"`
	RevealedAt time.Time          `json:"revealed_at"`
	Threshold  int                `json:"threshold"`
	Matches    []ReportMatch      `json:"matches"`
	Decisions  []store.AuditEntry `json:"decisions"`
}

// ReportMatch is one confirmed match of a report.
type ReportMatch struct {
	ID    string `json:"id"`
	DBID  string `json:"db_id"`
	Epoch uint64 `json:"epoch,omitempty"`
	Hash  string `json:"hash,omitempty"`
	// Derivative is the raw visual derivative and DerivativePNG the same
	// image as PNG, both base64.
	Derivative    string              `json:"derivative,omitempty"`
	DerivativePNG string              `json:"derivative_png,omitempty"`
	SecondHash    *secondhash.Verdict `json:"second_hash,omitempty"`
	ConfirmedBy   []string            `json:"confirmed_by"`
	Decisions     []store.AuditEntry  `json:"decisions"`
}

func (s *Service) handleReport(w http.ResponseWriter, r *http.Request) {
	if s.readerOf(w, r) == "" {
		return
	}
	account := r.PathValue("account")
	if !ValidAccount(account) {
		writeError(w, http.StatusBadRequest, "invalid account name (want 1 to 128 of A-Z a-z 0-9 . _ -)")
		return
	}
	p, _, err := s.accountView(r.Context(), account, "")
	if err != nil {
		s.storeError(w, err)
		return
	}
	switch {
	case p == nil:
		writeError(w, http.StatusNotFound, "no revealed matches for this account")
		return
	case p.Final == nil:
		writeError(w, http.StatusConflict, "the account is still under review")
		return
	case p.Final.Decision != store.Report:
		writeError(w, http.StatusConflict, "the account was dismissed, not reported")
		return
	}
	rp := ReportPackage{Account: account, ReportedAt: p.Final.At, ReportedBy: p.Final.Reviewer, Reason: p.Final.Reason,
		Quorum: p.Quorum, RevealedAt: p.Reveal.At, Threshold: p.Reveal.Threshold, Matches: []ReportMatch{}, Decisions: p.Entries}
	for _, m := range p.Matches {
		if m.Status != "confirmed" {
			continue
		}
		rp.Matches = append(rp.Matches, ReportMatch{ID: m.ID, DBID: m.DBID, Epoch: m.Epoch, Hash: m.Hash,
			Derivative: m.Derivative, DerivativePNG: m.DerivativePNG, SecondHash: m.SecondHash,
			ConfirmedBy: m.Confirms, Decisions: m.Entries})
	}
	writeJSON(w, http.StatusOK, rp)
}

func (s *Service) pageStoreError(w http.ResponseWriter, sess *session, err error) {
	s.m.inc(s.mErrors, 1, "store")
	s.log.Error("store failed", "err", err)
	s.message(w, http.StatusInternalServerError, sess, "Storage error", "The store failed; nothing was recorded. Try again.")
}
