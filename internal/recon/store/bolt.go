package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The file's layout:
//
//	meta/format                      "vouchsafe-store-1"
//	accounts/<account>/counts        5 × BE64: vouchers, matches, non-matches, invalid, conflicts
//	accounts/<account>/reveal        the last reveal result (opaque)
//	accounts/<account>/ids/<id>      1 byte: the Kind
//	accounts/<account>/matches/<id ‖ share>  the match record
const formatTag = "vouchsafe-store-1"

var (
	bucketMeta     = []byte("meta")
	bucketAccounts = []byte("accounts")
	bucketIDs      = []byte("ids")
	bucketMatches  = []byte("matches")
	keyFormat      = []byte("format")
	keyCounts      = []byte("counts")
	keyReveal      = []byte("reveal")
)

// Options configure Open.
type Options struct {
	// LockTimeout bounds the wait for the file lock held by another
	// process; zero means one second.
	LockTimeout time.Duration
	// BatchDelay is how long a write waits for concurrent writes to join its
	// transaction (one fsync for all); zero means 2 ms.
	BatchDelay time.Duration
}

// Bolt is the embedded Store: one bbolt file, opened by one process at a time.
type Bolt struct {
	db    *bolt.DB
	locks accountLocks
}

var _ Store = (*Bolt)(nil)

// Open opens or creates the store file at path (mode 0600).
func Open(path string, opts *Options) (*Bolt, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = time.Second
	}
	if o.BatchDelay == 0 {
		o.BatchDelay = 2 * time.Millisecond
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.LockTimeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("store: %s is in use by another process", path)
		}
		return nil, fmt.Errorf("store: %w", err)
	}
	db.MaxBatchDelay = o.BatchDelay
	err = db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch f := m.Get(keyFormat); {
		case f == nil:
			if err := m.Put(keyFormat, []byte(formatTag)); err != nil {
				return err
			}
		case string(f) != formatTag:
			return fmt.Errorf("store: %s: unknown format %q", path, f)
		}
		_, err = tx.CreateBucketIfNotExists(bucketAccounts)
		return err
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		// An existing file keeps its mode; match records are sensitive.
		if err := os.Chmod(path, 0o600); err != nil {
			db.Close()
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	return &Bolt{db: db}, nil
}

// Add implements Store. Concurrent calls share one transaction and one fsync.
func (s *Bolt) Add(ctx context.Context, account string, items []Item) ([]Status, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkAccount(account); err != nil {
		return nil, err
	}
	for i := range items {
		if err := checkItem(&items[i]); err != nil {
			return nil, err
		}
	}
	st := make([]Status, len(items))
	// Batch may run the function more than once: it recomputes st each time.
	err := s.db.Batch(func(tx *bolt.Tx) error {
		acct, err := tx.Bucket(bucketAccounts).CreateBucketIfNotExists([]byte(account))
		if err != nil {
			return err
		}
		ids, err := acct.CreateBucketIfNotExists(bucketIDs)
		if err != nil {
			return err
		}
		matches, err := acct.CreateBucketIfNotExists(bucketMatches)
		if err != nil {
			return err
		}
		c := decodeCounts(acct.Get(keyCounts))
		var key [24]byte
		for i := range items {
			it := &items[i]
			copy(key[:16], it.ID[:])
			copy(key[16:], it.Share[:])
			if ids.Get(it.ID[:]) != nil {
				st[i] = Duplicate
				if it.Kind == Match && matches.Get(key[:]) == nil {
					if err := matches.Put(key[:], it.Record); err != nil {
						return err
					}
					c.Conflicts++
				}
				continue
			}
			st[i] = Added
			if err := ids.Put(it.ID[:], []byte{byte(it.Kind)}); err != nil {
				return err
			}
			c.Vouchers++
			switch it.Kind {
			case Match:
				if err := matches.Put(key[:], it.Record); err != nil {
					return err
				}
				c.Matches++
			case NonMatch:
				c.NonMatches++
			case Invalid:
				c.Invalid++
			}
		}
		return acct.Put(keyCounts, encodeCounts(c))
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return st, nil
}

// Counts implements Store.
func (s *Bolt) Counts(ctx context.Context, account string) (c Counts, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return c, false, err
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		acct := tx.Bucket(bucketAccounts).Bucket([]byte(account))
		if acct == nil {
			return nil
		}
		c, ok = decodeCounts(acct.Get(keyCounts)), true
		return nil
	})
	return c, ok, err
}

// Records implements Store.
func (s *Bolt) Records(ctx context.Context, account string) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		acct := tx.Bucket(bucketAccounts).Bucket([]byte(account))
		if acct == nil {
			return nil
		}
		m := acct.Bucket(bucketMatches)
		if m == nil {
			return nil
		}
		// Values are only valid inside the transaction: copy them.
		return m.ForEach(func(_, v []byte) error {
			out = append(out, bytes.Clone(v))
			return nil
		})
	})
	return out, err
}

// SetReveal implements Store.
func (s *Bolt) SetReveal(ctx context.Context, account string, result []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkAccount(account); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		acct, err := tx.Bucket(bucketAccounts).CreateBucketIfNotExists([]byte(account))
		if err != nil {
			return err
		}
		return acct.Put(keyReveal, result)
	})
}

// Reveal implements Store.
func (s *Bolt) Reveal(ctx context.Context, account string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if acct := tx.Bucket(bucketAccounts).Bucket([]byte(account)); acct != nil {
			out = bytes.Clone(acct.Get(keyReveal))
		}
		return nil
	})
	return out, err
}

// Accounts implements Store.
func (s *Bolt) Accounts(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// Totals implements Totaler by reading every account's counts.
func (s *Bolt) Totals(ctx context.Context) (Totals, error) {
	var t Totals
	if err := ctx.Err(); err != nil {
		return t, err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		acc := tx.Bucket(bucketAccounts)
		return acc.ForEachBucket(func(k []byte) error {
			c := decodeCounts(acc.Bucket(k).Get(keyCounts))
			t.Accounts++
			t.Vouchers += c.Vouchers
			t.Matches += c.Matches
			t.NonMatches += c.NonMatches
			t.Invalid += c.Invalid
			t.Conflicts += c.Conflicts
			return nil
		})
	})
	return t, err
}

// LockAccount implements Store. A bbolt file has one process, so an
// in-process lock per account suffices.
func (s *Bolt) LockAccount(ctx context.Context, account string, wait bool) (func(), bool, error) {
	return s.locks.lock(ctx, account, wait)
}

// Close implements Store.
func (s *Bolt) Close() error { return s.db.Close() }

// Size is the store file's size in bytes.
func (s *Bolt) Size() int64 {
	var n int64
	s.db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return n
}

func encodeCounts(c Counts) []byte {
	b := make([]byte, 0, 40)
	for _, v := range []uint64{c.Vouchers, c.Matches, c.NonMatches, c.Invalid, c.Conflicts} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

func decodeCounts(b []byte) Counts {
	if len(b) != 40 {
		return Counts{}
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(b[8*i:]) }
	return Counts{Vouchers: u(0), Matches: u(1), NonMatches: u(2), Invalid: u(3), Conflicts: u(4)}
}

// accountLocks is a set of per-account mutexes that a waiter can abandon
// when its context ends.
type accountLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when the holder unlocks
}

func (l *accountLocks) lock(ctx context.Context, account string, wait bool) (func(), bool, error) {
	for {
		l.mu.Lock()
		ch, busy := l.held[account]
		if !busy {
			if l.held == nil {
				l.held = map[string]chan struct{}{}
			}
			ch = make(chan struct{})
			l.held[account] = ch
			l.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					l.mu.Lock()
					delete(l.held, account)
					l.mu.Unlock()
					close(ch)
				})
			}, true, nil
		}
		l.mu.Unlock()
		if !wait {
			return nil, false, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}
