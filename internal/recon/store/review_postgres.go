package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The review log is the table review_audit (migrations/0002_review.sql).

var _ ReviewStore = (*Postgres)(nil)

// AppendAudit implements ReviewStore with one INSERT that appends only if
// the account's newest entry is after; the unique (account, prev_seq) key
// refuses the second of two appends after the same entry, from this process
// or another. PostgreSQL keeps time to the microsecond: the entry is stored
// and returned with At in UTC, truncated to the microsecond.
func (s *Postgres) AppendAudit(ctx context.Context, e AuditEntry, after uint64) (AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return AuditEntry{}, err
	}
	e.Seq = 0
	if err := CheckAuditEntry(&e); err != nil {
		return AuditEntry{}, err
	}
	// PostgreSQL's text cannot hold a NUL byte.
	for what, v := range map[string]string{"account name": e.Account, "reviewer name": e.Reviewer, "match id": e.Match, "reason": e.Reason} {
		if strings.IndexByte(v, 0) >= 0 {
			return AuditEntry{}, fmt.Errorf("%w: %s holds a NUL byte", ErrAuditEntry, what)
		}
	}
	if after > math.MaxInt64 {
		return AuditEntry{}, ErrAuditConflict // no such entry
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	retried := false
	err := s.retry(ctx, func(ctx context.Context) error {
		if retried {
			// The previous try may have committed before its connection
			// was lost: then the entry after "after" is ours.
			var got AuditEntry
			err := s.pool.QueryRow(ctx, `SELECT `+auditColumns+` FROM review_audit
				WHERE account = $1 AND prev_seq = $2`, e.Account, int64(after)).Scan(auditDest(&got)...)
			if err == nil {
				got.At = got.At.UTC()
				mine := e
				mine.Seq = got.Seq
				if mine == got {
					e = got
					return nil
				}
				return ErrAuditConflict
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		retried = true
		var seq int64
		err := s.pool.QueryRow(ctx, `INSERT INTO review_audit (account, prev_seq, at, reviewer, match, decision, reason)
			SELECT $1, $2, $3, $4, $5, $6, $7
			WHERE (SELECT coalesce(max(seq), 0) FROM review_audit WHERE account = $1) = $2
			RETURNING seq`,
			e.Account, int64(after), e.At, e.Reviewer, e.Match, string(e.Decision), e.Reason).Scan(&seq)
		var pe *pgconn.PgError
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return ErrAuditConflict // the account's newest entry is not after
		case errors.As(err, &pe) && pe.Code == "23505":
			return ErrAuditConflict // another append after the same entry won
		case err != nil:
			return err
		}
		e.Seq = uint64(seq)
		return nil
	})
	if errors.Is(err, ErrAuditConflict) {
		return AuditEntry{}, ErrAuditConflict
	}
	if err != nil {
		return AuditEntry{}, fmt.Errorf("store: %w", err)
	}
	return e, nil
}

// AccountAudit implements ReviewStore.
func (s *Postgres) AccountAudit(ctx context.Context, account string) ([]AuditEntry, error) {
	var out []AuditEntry
	err := s.retry(ctx, func(ctx context.Context) error {
		var err error
		out, err = s.queryAudit(ctx, `SELECT `+auditColumns+` FROM review_audit
			WHERE account = $1 ORDER BY seq`, account)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return out, nil
}

// Audit implements ReviewStore.
func (s *Postgres) Audit(ctx context.Context, after uint64, limit int) ([]AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if after >= math.MaxInt64 || limit <= 0 {
		return nil, nil
	}
	var out []AuditEntry
	err := s.retry(ctx, func(ctx context.Context) error {
		var err error
		out, err = s.queryAudit(ctx, `SELECT `+auditColumns+` FROM review_audit
			WHERE seq > $1 ORDER BY seq LIMIT $2`, int64(after), int64(limit))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return out, nil
}

// auditColumns are the columns of an AuditEntry, in auditDest's order.
const auditColumns = "seq, at, reviewer, account, match, decision, reason"

func auditDest(e *AuditEntry) []any {
	return []any{&e.Seq, &e.At, &e.Reviewer, &e.Account, &e.Match, &e.Decision, &e.Reason}
}

// queryAudit runs a query of auditColumns and checks every entry it
// returns, as decodeAudit does for bbolt.
func (s *Postgres) queryAudit(ctx context.Context, sql string, args ...any) ([]AuditEntry, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	var out []AuditEntry
	var e AuditEntry
	_, err = pgx.ForEachRow(rows, auditDest(&e), func() error {
		e.At = e.At.UTC() // pgx gives the local zone
		if err := CheckAuditEntry(&e); err != nil {
			return fmt.Errorf("corrupt audit entry %d: %w", e.Seq, err)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}
