package service

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Cookies of the review console.
const (
	// sessionCookie holds a reviewer's session id.
	sessionCookie = "vouchsafe_review"
	// loginCookie holds the CSRF token of the log-in form (double submit:
	// there is no session yet to keep it in).
	loginCookie = "vouchsafe_login"
	// maxSessions bounds the live sessions kept in memory.
	maxSessions = 4096
	// DefaultSessionTTL is how long a review session lasts.
	DefaultSessionTTL = 8 * time.Hour
)

// session is one logged-in reviewer. Sessions live in memory only: a
// restart logs every reviewer out, which is the safe direction.
type session struct {
	reviewer string
	csrf     string
	expires  time.Time
}

// sessions maps SHA-256 hashes of session ids to sessions, so that the
// ids themselves are not kept.
type sessions struct {
	mu  sync.Mutex
	m   map[[32]byte]*session
	ttl time.Duration
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{m: make(map[[32]byte]*session), ttl: ttl}
}

// randomToken returns 32 random bytes in URL-safe base64.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session for reviewer and returns its id, or "" when the
// table is full of live sessions.
func (ss *sessions) create(reviewer string, now time.Time) (string, *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= maxSessions {
		for k, s := range ss.m {
			if !now.Before(s.expires) {
				delete(ss.m, k)
			}
		}
		if len(ss.m) >= maxSessions {
			return "", nil
		}
	}
	id := randomToken()
	s := &session{reviewer: reviewer, csrf: randomToken(), expires: now.Add(ss.ttl)}
	ss.m[sha256.Sum256([]byte(id))] = s
	return id, s
}

// get returns the live session with id, or nil.
func (ss *sessions) get(id string, now time.Time) *session {
	if id == "" {
		return nil
	}
	k := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[k]
	if s == nil {
		return nil
	}
	if !now.Before(s.expires) {
		delete(ss.m, k)
		return nil
	}
	return s
}

func (ss *sessions) remove(id string) {
	ss.mu.Lock()
	delete(ss.m, sha256.Sum256([]byte(id)))
	ss.mu.Unlock()
}

// sameToken compares two CSRF tokens in constant time.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// setCookie sets a console cookie: HttpOnly, SameSite=Strict, Secure over
// TLS, expiring with maxAge (negative: delete it).
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration, now time.Time) {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/",
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	}
	if maxAge < 0 {
		c.MaxAge, c.Expires = -1, time.Unix(1, 0)
	} else {
		c.MaxAge, c.Expires = int(maxAge/time.Second), now.Add(maxAge)
	}
	http.SetCookie(w, c)
}

// session returns the request's live review session, or nil.
func (s *Service) session(r *http.Request) (*session, string) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, ""
	}
	return s.review.sessions.get(c.Value, s.now()), c.Value
}

// sameOrigin refuses a state-changing request that a browser says came
// from another site (defence in depth beside the CSRF token and
// SameSite=Strict).
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" { // "null" (a sandboxed or privacy-redirected form) is refused too
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		return o == scheme+r.Host
	}
	return true
}
