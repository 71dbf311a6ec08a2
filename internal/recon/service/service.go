// Package service is the reconstructor's HTTP service (protocol.md §4): it
// receives vouchers per account, tests each on arrival against the epoch
// keys (psi.Server.MatchBatch), files the outcome durably in a store.Store,
// and runs the threshold reveal per account on demand or on a schedule.
//
// The API (JSON for control, the binary voucher formats for data):
//
//	POST /v1/accounts/{account}/vouchers  ingest client: one voucher or a stream
//	POST /v1/accounts/{account}/reveal    operator: run the reveal now
//	GET  /v1/accounts/{account}           operator: counts and the last reveal
//	GET  /metrics                         operator: Prometheus text format
//	GET  /healthz                         anyone: "ok"
//
// and the human review console (/review, /v1/audit, /v1/accounts/{account}/report;
// see review.go).
//
// A voucher upload's body is either one raw voucher (Content-Type
// ContentTypeVoucher) or a voucher stream as psi.VoucherWriter writes it
// (ContentTypeStream), whose label must be empty or the account. The answer
// comes after the outcome is committed to the store, and tells per voucher
// whether it was stored, a duplicate of a stored id, or rejected; it never
// tells whether a voucher matched.
package service

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/recon/secondhash"
	"github.com/vouchsafe/vouchsafe/internal/recon/store"
	"github.com/vouchsafe/vouchsafe/psi"
)

// Content types of voucher uploads.
const (
	ContentTypeVoucher = "application/vnd.vouchsafe.voucher"
	ContentTypeStream  = "application/vnd.vouchsafe.voucher-stream"
)

// Defaults of Config.
const (
	DefaultMaxBody  = 16 << 20
	DefaultMaxBatch = 1000
)

// Config configures a Service.
type Config struct {
	// Server holds the secret key of every table epoch; all epochs must
	// share t and s.
	Server *psi.Server
	Store  store.Store
	Tokens *Tokens
	// MaxBody bounds a request body in bytes (DefaultMaxBody if zero).
	MaxBody int64
	// MaxBatch bounds the vouchers of one upload (DefaultMaxBatch if zero).
	MaxBatch int
	// Rate is the sustained requests per second allowed per client, Burst
	// the bucket size; Rate zero means no limit.
	Rate  float64
	Burst int
	// Workers bounds the goroutines matching one upload (GOMAXPROCS if zero).
	Workers int
	// SecondHash, if set, is the PDQ list every revealed match is checked
	// against; the verdict is stored with the reveal result.
	SecondHash *secondhash.List
	// Logger receives operational events; nil discards them. Tokens, keys
	// and associated data are never logged.
	Logger *slog.Logger
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// Review keeps the review console's audit log; if nil, Store is used
	// when it implements store.ReviewStore, else there is no console.
	Review store.ReviewStore
	// ReviewQuorum is how many different reviewers must confirm a match
	// before it can be reported (1 if zero).
	ReviewQuorum int
	// SessionTTL is a review session's lifetime (DefaultSessionTTL if zero).
	SessionTTL time.Duration
}

// Service is the reconstructor; it is an http.Handler.
type Service struct {
	cfg    Config
	params psi.Params
	mux    *http.ServeMux
	log    *slog.Logger
	now    func() time.Time
	limit  *limiter

	revealMu sync.Mutex // one reveal at a time: reveals are rare and CPU-bound
	review   *review    // the review console (review.go); nil without a ReviewStore

	m           metrics
	mRequests   *family
	mLatency    *family
	mVouchers   *family
	mMatches    *family
	mReveals    *family
	mRevealTime *family
	mErrors     *family
}

// New checks the configuration and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Server == nil || cfg.Store == nil || cfg.Tokens == nil {
		return nil, errors.New("service: Server, Store and Tokens are required")
	}
	p, err := cfg.Server.Params()
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.Rate < 0 || (cfg.Rate > 0 && cfg.Burst < 1) {
		return nil, errors.New("service: a rate limit needs a positive rate and a burst of at least 1")
	}
	s := &Service{cfg: cfg, params: p, log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.Rate > 0 {
		s.limit = newLimiter(cfg.Rate, cfg.Burst)
	}
	s.mRequests = s.m.add("vouchsafe_http_requests_total", "HTTP requests by route and status code.", "counter", "route", "code")
	s.mLatency = s.m.add("vouchsafe_http_request_duration_seconds", "HTTP request latency by route.", "histogram", "route")
	s.mVouchers = s.m.add("vouchsafe_vouchers_ingested_total", "Vouchers received, by outcome (stored, duplicate, rejected).", "counter", "status")
	s.mMatches = s.m.add("vouchsafe_match_records_stored_total", "Match records stored (matching vouchers with a new id, and conflicting shares).", "counter")
	s.mReveals = s.m.add("vouchsafe_reveals_total", "Reveals run, by result (below, above, error).", "counter", "result")
	s.mRevealTime = s.m.add("vouchsafe_reveal_duration_seconds", "Latency of one account's reveal.", "histogram")
	s.mErrors = s.m.add("vouchsafe_errors_total", "Server-side errors by kind.", "counter", "kind")

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /v1/accounts/{account}/vouchers", s.handleIngest)
	s.mux.HandleFunc("POST /v1/accounts/{account}/reveal", s.handleReveal)
	s.mux.HandleFunc("GET /v1/accounts/{account}", s.handleAccount)
	s.mux.HandleFunc("GET /metrics", s.handleMetrics)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	if err := s.registerReview(); err != nil {
		return nil, err
	}
	return s, nil
}

// Params are the t, s and AD_LEN the service reveals with.
func (s *Service) Params() psi.Params { return s.params }

// ServeHTTP implements http.Handler.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	sw := &statusWriter{ResponseWriter: w}
	route := routeOf(r)
	// Refuse dot segments and empty segments outright instead of letting the
	// mux redirect them; escaped ones ("%2e%2e") reach ValidAccount as "..".
	if p := r.URL.EscapedPath(); p != path.Clean(p) {
		writeError(sw, http.StatusBadRequest, "path is not canonical")
	} else {
		s.mux.ServeHTTP(sw, r)
	}
	if sw.code == 0 {
		sw.code = http.StatusOK
	}
	s.m.inc(s.mRequests, 1, route, strconv.Itoa(sw.code))
	s.m.observe(s.mLatency, s.now().Sub(start), route)
}

// routeOf names a request's route for the metrics without the account.
func routeOf(r *http.Request) string {
	p := r.URL.Path
	switch {
	case p == "/metrics" || p == "/healthz":
		return p[1:]
	case strings.HasPrefix(p, "/v1/accounts/") && strings.HasSuffix(p, "/vouchers"):
		return "vouchers"
	case strings.HasPrefix(p, "/v1/accounts/") && strings.HasSuffix(p, "/reveal"):
		return "reveal"
	case strings.HasPrefix(p, "/v1/accounts/") && strings.HasSuffix(p, "/report"):
		return "report"
	case p == "/v1/audit":
		return "audit"
	case p == "/review" || strings.HasPrefix(p, "/review/"):
		return "review"
	case strings.HasPrefix(p, "/v1/accounts/"):
		return "account"
	}
	return "other"
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// errorBody is the JSON body of every 4xx and 5xx answer.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// authorize authenticates the bearer token, checks the role and rate limit,
// and validates the account in the path (when the route has one). It writes
// the error answer and returns nil when the request must stop.
func (s *Service) authorize(w http.ResponseWriter, r *http.Request, role Role) (*Client, string) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	c := s.cfg.Tokens.Lookup(strings.TrimSpace(tok))
	if !ok || c == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vouchsafe"`)
		writeError(w, http.StatusUnauthorized, "missing or unknown bearer token")
		return nil, ""
	}
	if s.limit != nil {
		if ok, wait := s.limit.allow(c.Name, s.now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			writeError(w, http.StatusTooManyRequests, "rate limit exceeded")
			return nil, ""
		}
	}
	account := r.PathValue("account")
	if r.Pattern != "GET /metrics" && !ValidAccount(account) {
		writeError(w, http.StatusBadRequest, "invalid account name (want 1 to 128 of A-Z a-z 0-9 . _ -)")
		return nil, ""
	}
	switch {
	case c.Role != role:
		writeError(w, http.StatusForbidden, fmt.Sprintf("this token's role is %s", c.Role))
		return nil, ""
	case role == RoleIngest && !c.MayIngest(account):
		writeError(w, http.StatusForbidden, "this token may not upload to this account")
		return nil, ""
	}
	return c, account
}

// IngestResult is the JSON answer to a voucher upload.
type IngestResult struct {
	Account   string          `json:"account"`
	Received  int             `json:"received"`
	Stored    int             `json:"stored"`
	Duplicate int             `json:"duplicate"`
	Rejected  int             `json:"rejected"`
	Vouchers  []VoucherStatus `json:"vouchers"`
}

// VoucherStatus is the outcome of one uploaded voucher.
type VoucherStatus struct {
	Index  int    `json:"index"` // 0-based position in the upload
	ID     string `json:"id,omitempty"`
	Status string `json:"status"` // StatusStored, StatusDuplicate or StatusRejected
	Error  string `json:"error,omitempty"`
}

// Values of VoucherStatus.Status.
const (
	StatusStored    = "stored"
	StatusDuplicate = "duplicate"
	StatusRejected  = "rejected"
)

// requestError is a whole-request failure with its HTTP status.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string { return e.msg }

// ReadUpload parses an upload body of the given content type into vouchers.
// It enforces maxBatch and, for a stream, that the label is empty or
// account. Errors are *requestError values carrying the HTTP status.
func ReadUpload(contentType string, body io.Reader, account string, maxBatch int) ([][]byte, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	switch mt {
	case ContentTypeVoucher:
		v, err := io.ReadAll(io.LimitReader(body, psi.MaxVoucherSize+1))
		if err != nil {
			return nil, bodyError(err)
		}
		if len(v) > psi.MaxVoucherSize {
			return nil, &requestError{http.StatusRequestEntityTooLarge, "voucher larger than the largest voucher format"}
		}
		return [][]byte{v}, nil
	case ContentTypeStream:
		vr, err := psi.NewVoucherReader(body)
		if err != nil {
			if be := bodyError(err); be.(*requestError).code == http.StatusRequestEntityTooLarge {
				return nil, be
			}
			return nil, &requestError{http.StatusBadRequest, err.Error()}
		}
		if l := vr.Label(); l != "" && l != account {
			return nil, &requestError{http.StatusBadRequest, "the stream's account label is not the account in the path"}
		}
		var vs [][]byte
		for {
			v, err := vr.Next()
			if errors.Is(err, io.EOF) {
				return vs, nil
			}
			if err != nil {
				if be := bodyError(err); be.(*requestError).code == http.StatusRequestEntityTooLarge {
					return nil, be
				}
				// A broken frame cannot be resynchronised: store nothing, so
				// that the client can simply retry the whole upload.
				return nil, &requestError{http.StatusBadRequest, fmt.Sprintf("after voucher %d: %v", len(vs), err)}
			}
			if len(vs) == maxBatch {
				return nil, &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf("more than %d vouchers in one upload", maxBatch)}
			}
			vs = append(vs, v)
		}
	}
	return nil, &requestError{http.StatusUnsupportedMediaType, "Content-Type must be " + ContentTypeVoucher + " or " + ContentTypeStream}
}

func bodyError(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mb.Limit)}
	}
	return &requestError{http.StatusBadRequest, "reading the body: " + err.Error()}
}

// secretDependent reports whether a Match error can only arise once the
// outer layer opened, i.e. for a voucher whose hash is in the table. Telling
// the client about it would be a membership oracle, so such vouchers are
// stored (as invalid) and answered like any other.
func secretDependent(err error) bool {
	return errors.Is(err, psi.ErrDoubleMatch) || errors.Is(err, psi.ErrInnerLayer)
}

// shareDigest names a match record's share and DHF value: a record that
// repeats a stored id with the same digest is a retry.
func shareDigest(r *psi.MatchRecord) [8]byte {
	h := sha256.New()
	h.Write(r.X[:])
	h.Write(r.Z[:])
	var b [8]byte
	for _, v := range r.R {
		binary.BigEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	var out [8]byte
	copy(out[:], h.Sum(nil))
	return out
}

func (s *Service) handleIngest(w http.ResponseWriter, r *http.Request) {
	_, account := s.authorize(w, r, RoleIngest)
	if account == "" {
		return
	}
	if r.ContentLength > s.cfg.MaxBody {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", s.cfg.MaxBody))
		return
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
	vs, err := ReadUpload(r.Header.Get("Content-Type"), body, account, s.cfg.MaxBatch)
	if err != nil {
		re := err.(*requestError)
		writeError(w, re.code, re.msg)
		return
	}
	res := IngestResult{Account: account, Received: len(vs), Vouchers: make([]VoucherStatus, len(vs))}
	var items []store.Item
	var itemOf []int // items[k] is voucher itemOf[k]
	for i, mr := range s.cfg.Server.MatchBatch(vs, s.cfg.Workers) {
		st := &res.Vouchers[i]
		st.Index = i
		if mr.Header != (psi.VoucherHeader{}) {
			st.ID = mr.Header.ID.String()
		}
		it := store.Item{ID: mr.Header.ID}
		switch {
		case mr.Err != nil && !secretDependent(mr.Err):
			st.Status, st.Error = StatusRejected, mr.Err.Error()
			continue
		case mr.Err != nil:
			it.Kind = store.Invalid
		case mr.Record == nil:
			it.Kind = store.NonMatch
		default:
			rec, err := mr.Record.MarshalBinary()
			if err != nil {
				st.Status, st.Error = StatusRejected, "internal error"
				s.m.inc(s.mErrors, 1, "marshal")
				continue
			}
			it.Kind, it.Record, it.Share = store.Match, rec, shareDigest(mr.Record)
		}
		items = append(items, it)
		itemOf = append(itemOf, i)
	}
	var sts []store.Status
	if len(items) > 0 {
		if sts, err = s.cfg.Store.Add(r.Context(), account, items); err != nil {
			s.m.inc(s.mErrors, 1, "store")
			s.log.Error("store add failed", "account", account, "err", err)
			// Nothing is answered "stored" unless committed; the store
			// keeps ids once, so the client's retry is safe.
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "storage unavailable; retry the upload")
			return
		}
	}
	matches := 0
	for k, st := range sts {
		v := &res.Vouchers[itemOf[k]]
		if st == store.Added {
			v.Status = StatusStored
			if items[k].Kind == store.Match {
				matches++
			}
		} else {
			v.Status = StatusDuplicate
			// A conflicting share was stored too; counted for the operator.
		}
	}
	for _, v := range res.Vouchers {
		switch v.Status {
		case StatusStored:
			res.Stored++
		case StatusDuplicate:
			res.Duplicate++
		case StatusRejected:
			res.Rejected++
		}
	}
	s.m.inc(s.mVouchers, float64(res.Stored), StatusStored)
	s.m.inc(s.mVouchers, float64(res.Duplicate), StatusDuplicate)
	s.m.inc(s.mVouchers, float64(res.Rejected), StatusRejected)
	s.m.inc(s.mMatches, float64(matches))
	writeJSON(w, http.StatusOK, res)
}

func (s *Service) handleReveal(w http.ResponseWriter, r *http.Request) {
	_, account := s.authorize(w, r, RoleOperator)
	if account == "" {
		return
	}
	if _, ok, err := s.cfg.Store.Counts(r.Context(), account); err != nil {
		s.storeError(w, err)
		return
	} else if !ok {
		writeError(w, http.StatusNotFound, "no such account")
		return
	}
	if _, err := s.RevealAccount(r.Context(), account); err != nil {
		s.storeError(w, err)
		return
	}
	s.writeAccount(w, r, account)
}

func (s *Service) handleAccount(w http.ResponseWriter, r *http.Request) {
	_, account := s.authorize(w, r, RoleOperator)
	if account == "" {
		return
	}
	s.writeAccount(w, r, account)
}

// AccountView is the JSON answer of GET /v1/accounts/{account}.
type AccountView struct {
	Account string       `json:"account"`
	Counts  store.Counts `json:"counts"`
	// LastReveal is the result of the last reveal (RevealView), absent
	// before the first.
	LastReveal json.RawMessage `json:"last_reveal,omitempty"`
}

func (s *Service) writeAccount(w http.ResponseWriter, r *http.Request, account string) {
	c, ok, err := s.cfg.Store.Counts(r.Context(), account)
	if err != nil {
		s.storeError(w, err)
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, "no such account")
		return
	}
	last, err := s.cfg.Store.Reveal(r.Context(), account)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, AccountView{Account: account, Counts: c, LastReveal: last})
}

func (s *Service) storeError(w http.ResponseWriter, err error) {
	s.m.inc(s.mErrors, 1, "store")
	s.log.Error("store failed", "err", err)
	if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "storage unavailable; retry")
		return
	}
	writeError(w, http.StatusInternalServerError, "storage error")
}

func (s *Service) handleMetrics(w http.ResponseWriter, r *http.Request) {
	// Operator only: the match counter, read right after an upload, would
	// tell a client whether its voucher matched.
	if c, _ := s.authorize(w, r, RoleOperator); c == nil {
		return
	}
	var b bytes.Buffer
	s.m.write(&b)
	s.writeStoreMetrics(r.Context(), &b)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(b.Bytes())
}
