// Package store keeps the reconstructor's per-account state durably: which
// voucher ids each account has sent, the match records of its matching
// vouchers (protocol.md §4.1), counts, and the last reveal result.
//
// Store is the interface the service uses. Open returns the embedded
// implementation, a single bbolt file for one process; OpenPostgres returns
// one on a PostgreSQL database that many service processes share. Every
// write is one transaction that is durable before it returns, so an
// acknowledged voucher survives a crash, and a voucher id is recorded at most
// once per account, so a retried upload never counts twice.
//
// The store does not parse vouchers or match records: the caller classifies
// each voucher (Item) and the store files the outcome.
package store

import (
	"context"
	"errors"
)

// Kind is the server's classification of one voucher.
type Kind uint8

const (
	// NonMatch is a voucher whose outer layer opened under no pair: only its
	// id is kept.
	NonMatch Kind = 1
	// Match is a voucher that opened under exactly one pair: its match
	// record is kept for the reveal.
	Match Kind = 2
	// Invalid is a voucher whose outer layer opened but that failed later
	// (two pairs opening, bad inner layer): only its id is kept.
	Invalid Kind = 3
)

// Item is one voucher's outcome, for Add.
type Item struct {
	ID   [16]byte
	Kind Kind
	// Share names the match record's Shamir share and DHF value (a digest
	// chosen by the caller). A Match whose id is already stored is kept as a
	// conflict only when its Share differs, so that the reveal can flag the
	// id as inconsistent (protocol.md §4.2) while an identical retry is not
	// stored twice.
	Share [8]byte
	// Record is the encoded match record of a Match, nil otherwise.
	Record []byte
}

// Status is what Add did with one Item.
type Status uint8

const (
	// Added means the id was new: the item was stored and counted.
	Added Status = 1
	// Duplicate means the id was already stored: nothing was counted.
	Duplicate Status = 2
)

// Counts are an account's totals. Every voucher id counts once.
type Counts struct {
	Vouchers   uint64 `json:"vouchers"` // distinct voucher ids
	Matches    uint64 `json:"matches"`
	NonMatches uint64 `json:"non_matches"`
	Invalid    uint64 `json:"invalid"`
	// Conflicts are match records stored under an id that was already
	// stored with another share (not counted in Vouchers).
	Conflicts uint64 `json:"conflicts"`
}

// Records is the number of stored match records: Matches + Conflicts.
func (c Counts) Records() uint64 { return c.Matches + c.Conflicts }

// Store is the durable per-account state of the reconstructor. Its methods
// are safe for concurrent use, and for the PostgreSQL store also across
// processes. A method whose ctx is done returns early with an error; a write
// then either committed whole or not at all.
type Store interface {
	// Add files the items of one account in a single durable transaction
	// and reports, per item, whether it was added or a duplicate.
	Add(ctx context.Context, account string, items []Item) ([]Status, error)
	// Counts returns an account's totals; ok is false for an account that
	// was never stored.
	Counts(ctx context.Context, account string) (c Counts, ok bool, err error)
	// Records returns the encoded match records of an account, in key order
	// (voucher id, then share).
	Records(ctx context.Context, account string) ([][]byte, error)
	// SetReveal stores the encoded result of the last reveal of an account.
	SetReveal(ctx context.Context, account string, result []byte) error
	// Reveal returns the stored result of the last reveal, or nil.
	Reveal(ctx context.Context, account string) ([]byte, error)
	// Accounts lists the stored accounts in sorted order.
	Accounts(ctx context.Context) ([]string, error)
	// LockAccount takes the account's reveal lock, held by at most one
	// caller at a time among every process sharing the store. With wait
	// false it returns ok false at once when another caller holds it. The
	// caller must call unlock (only when ok).
	LockAccount(ctx context.Context, account string, wait bool) (unlock func(), ok bool, err error)
	// Close flushes and releases the store.
	Close() error
}

// Totals are the store's totals over all accounts.
type Totals struct {
	Accounts uint64
	Counts
}

// Totaler is implemented by stores that can sum their counts over all
// accounts (both stores here), for gauges that read the same from every
// instance sharing a database.
type Totaler interface {
	Totals(ctx context.Context) (Totals, error)
}

// Errors returned by the stores.
var (
	ErrAccount = errors.New("store: invalid account name")
	ErrKind    = errors.New("store: invalid item kind")
	ErrClosed  = errors.New("store: closed")
)

// MaxAccount bounds an account name's length.
const MaxAccount = 255

func checkAccount(a string) error {
	if a == "" || len(a) > MaxAccount {
		return ErrAccount
	}
	return nil
}

func checkItem(it *Item) error {
	switch it.Kind {
	case Match:
		if len(it.Record) == 0 {
			return ErrKind
		}
	case NonMatch, Invalid:
		if it.Record != nil {
			return ErrKind
		}
	default:
		return ErrKind
	}
	return nil
}
