package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Decision is what a reviewer decided about a revealed match or an account.
type Decision string

const (
	// Confirm says a revealed match is what the database entry describes.
	Confirm Decision = "confirm"
	// Reject says a revealed match is a false positive (with a reason).
	Reject Decision = "reject"
	// Report closes an account by reporting its confirmed matches.
	Report Decision = "report"
	// Dismiss closes an account without a report.
	Dismiss Decision = "dismiss"
)

// AuditEntry is one line of the append-only review audit log.
type AuditEntry struct {
	// Seq numbers the entries of the whole log from 1, in append order; the
	// store assigns it.
	Seq      uint64    `json:"seq"`
	At       time.Time `json:"at"`
	Reviewer string    `json:"reviewer"`
	Account  string    `json:"account"`
	// Match is the voucher id (32 hex digits) of a match decision, empty for
	// an account decision.
	Match    string   `json:"match,omitempty"`
	Decision Decision `json:"decision"`
	Reason   string   `json:"reason,omitempty"`
}

// Bounds of an audit entry's fields.
const (
	MaxReviewer = 128
	MaxMatch    = 64
	MaxReason   = 2000
)

// ReviewStore is the durable, append-only log of review decisions. The
// current state of a review (which matches are confirmed, whether an
// account was reported) is derived from the log, so decisions survive
// restarts and nothing is ever overwritten. Its methods are safe for
// concurrent use.
type ReviewStore interface {
	// AppendAudit appends e (its Seq is ignored) and returns it with its
	// Seq. It appends only if the account's newest entry has sequence number
	// after (0: the account has none yet) and returns ErrAuditConflict
	// otherwise, so that a decision checked against the account's entries is
	// never appended after another one it did not see.
	AppendAudit(ctx context.Context, e AuditEntry, after uint64) (AuditEntry, error)
	// AccountAudit returns one account's entries, oldest first.
	AccountAudit(ctx context.Context, account string) ([]AuditEntry, error)
	// Audit returns at most limit entries of the whole log with Seq greater
	// than after, oldest first.
	Audit(ctx context.Context, after uint64, limit int) ([]AuditEntry, error)
}

// Errors of a ReviewStore.
var (
	ErrAuditConflict = errors.New("store: the account's audit log changed meanwhile")
	ErrAuditEntry    = errors.New("store: invalid audit entry")
)

// CheckAuditEntry validates an entry before it is appended.
func CheckAuditEntry(e *AuditEntry) error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrAuditEntry, what) }
	switch {
	case checkAccount(e.Account) != nil:
		return bad("account name")
	case e.Reviewer == "" || len(e.Reviewer) > MaxReviewer || !utf8.ValidString(e.Reviewer):
		return bad("reviewer name")
	case len(e.Match) > MaxMatch || !utf8.ValidString(e.Match):
		return bad("match id")
	case len(e.Reason) > MaxReason || !utf8.ValidString(e.Reason):
		return bad(fmt.Sprintf("reason (at most %d bytes of UTF-8)", MaxReason))
	case e.At.IsZero():
		return bad("time")
	}
	switch e.Decision {
	case Confirm, Reject:
		if e.Match == "" {
			return bad(string(e.Decision) + " names no match")
		}
	case Report, Dismiss:
		if e.Match != "" {
			return bad(string(e.Decision) + " is an account decision")
		}
	default:
		return bad(fmt.Sprintf("decision %q", e.Decision))
	}
	return nil
}

// encodeAudit and decodeAudit are the stored form of an entry.
func encodeAudit(e *AuditEntry) ([]byte, error) { return json.Marshal(e) }

func decodeAudit(b []byte) (AuditEntry, error) {
	var e AuditEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return AuditEntry{}, fmt.Errorf("store: corrupt audit entry: %w", err)
	}
	if err := CheckAuditEntry(&e); err != nil {
		return AuditEntry{}, fmt.Errorf("store: corrupt audit entry %d: %w", e.Seq, err)
	}
	return e, nil
}
