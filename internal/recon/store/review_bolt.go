package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
)

// The review buckets, beside the accounts:
//
//	audit/<seq BE64>                 the entry (JSON)
//	audit-accounts/<account>/<seq>   empty: the account's entries
var (
	bucketAudit         = []byte("audit")
	bucketAuditAccounts = []byte("audit-accounts")
)

var _ ReviewStore = (*Bolt)(nil)

// AppendAudit implements ReviewStore. The check of after and the append
// are one transaction, fsynced before it returns.
func (s *Bolt) AppendAudit(ctx context.Context, e AuditEntry, after uint64) (AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return AuditEntry{}, err
	}
	e.Seq = 0
	if err := CheckAuditEntry(&e); err != nil {
		return AuditEntry{}, err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		log, err := tx.CreateBucketIfNotExists(bucketAudit)
		if err != nil {
			return err
		}
		idx, err := tx.CreateBucketIfNotExists(bucketAuditAccounts)
		if err != nil {
			return err
		}
		acct, err := idx.CreateBucketIfNotExists([]byte(e.Account))
		if err != nil {
			return err
		}
		var last uint64
		if k, _ := acct.Cursor().Last(); k != nil {
			last = binary.BigEndian.Uint64(k)
		}
		if last != after {
			return ErrAuditConflict
		}
		if e.Seq, err = log.NextSequence(); err != nil {
			return err
		}
		b, err := encodeAudit(&e)
		if err != nil {
			return err
		}
		key := binary.BigEndian.AppendUint64(nil, e.Seq)
		if err := log.Put(key, b); err != nil {
			return err
		}
		return acct.Put(key, nil)
	})
	if err == ErrAuditConflict {
		return AuditEntry{}, err
	}
	if err != nil {
		return AuditEntry{}, fmt.Errorf("store: %w", err)
	}
	return e, nil
}

// AccountAudit implements ReviewStore.
func (s *Bolt) AccountAudit(ctx context.Context, account string) ([]AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []AuditEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		log, idx := tx.Bucket(bucketAudit), tx.Bucket(bucketAuditAccounts)
		if log == nil || idx == nil {
			return nil
		}
		acct := idx.Bucket([]byte(account))
		if acct == nil {
			return nil
		}
		return acct.ForEach(func(k, _ []byte) error {
			v := log.Get(k)
			if v == nil {
				return fmt.Errorf("store: audit index names missing entry %x", k)
			}
			e, err := decodeAudit(v)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// Audit implements ReviewStore.
func (s *Bolt) Audit(ctx context.Context, after uint64, limit int) ([]AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if after == math.MaxUint64 || limit <= 0 {
		return nil, nil
	}
	var out []AuditEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		log := tx.Bucket(bucketAudit)
		if log == nil {
			return nil
		}
		c := log.Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < limit; k, v = c.Next() {
			e, err := decodeAudit(v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
