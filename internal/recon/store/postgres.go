package store

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are the schema's versions, applied in order by OpenPostgres:
// NNNN_name.sql, each in one transaction.
//
//go:embed migrations/*.sql
var migrations embed.FS

// PostgresOptions configure OpenPostgres.
type PostgresOptions struct {
	// MaxConns bounds the connection pool (pgx's default if zero:
	// the greater of 4 and the number of CPUs).
	MaxConns int32
	// RetryFor is how long a write keeps retrying after losing its
	// connection or the server (a restart, a failover) before giving up
	// with ErrUnavailable; zero means 10 seconds.
	RetryFor time.Duration
}

// ErrUnavailable means the database could not be reached, or the connection
// was lost, for longer than the retry period. A write that returns it may or
// may not have committed; retrying it is safe.
var ErrUnavailable = errors.New("store: database unavailable")

// Postgres is the Store on a PostgreSQL database. Any number of processes
// may share one database: Add serialises writes per account with a row lock,
// and LockAccount is a session advisory lock.
type Postgres struct {
	pool     *pgxpool.Pool
	retryFor time.Duration
	retries  atomic.Int64 // transactions re-run after a lost connection
	// held bounds the account locks held at once in this process: each
	// pins a connection, and its holder needs another for its queries, so
	// at most half the pool is pinned.
	held chan struct{}
}

var _ Store = (*Postgres)(nil)

// IsPostgresURL reports whether s names a PostgreSQL database
// (postgres:// or postgresql://) rather than a store file.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// RedactURL returns a PostgreSQL URL without its password, for logs. It
// splits the URL as libpq and pgx do (not as net/url does): the userinfo
// ends at the first '@' before any '/', and the query is '&'-separated
// key=value pairs after the first '?' that follows; any parameter whose
// name mentions "pass" loses its value.
func RedactURL(s string) string {
	rest, ok := strings.CutPrefix(s, "postgresql://")
	scheme := "postgresql://"
	if !ok {
		if rest, ok = strings.CutPrefix(s, "postgres://"); !ok {
			return "(not a postgres:// URL)"
		}
		scheme = "postgres://"
	}
	user := ""
	if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
		u, _, _ := strings.Cut(rest[:i], ":")
		user, rest = u+"@", rest[i+1:]
	}
	if before, query, ok := strings.Cut(rest, "?"); ok {
		pairs := strings.Split(query, "&")
		for i, pair := range pairs {
			k, _, _ := strings.Cut(pair, "=")
			if dk, err := url.PathUnescape(k); err != nil || strings.Contains(strings.ToLower(dk), "pass") {
				pairs[i] = "redacted=xxx"
			}
		}
		rest = before + "?" + strings.Join(pairs, "&")
	}
	return scheme + user + rest
}

// OpenPostgres connects to the database at connURL (a postgres:// URL;
// what it leaves out comes from the PGHOST, PGUSER, PGPASSWORD, … environment
// as in libpq) and brings its schema up to date.
func OpenPostgres(ctx context.Context, connURL string, opts *PostgresOptions) (*Postgres, error) {
	var o PostgresOptions
	if opts != nil {
		o = *opts
	}
	if o.RetryFor == 0 {
		o.RetryFor = 10 * time.Second
	}
	cfg, err := pgxpool.ParseConfig(connURL)
	if err != nil {
		// pgx's message repeats the URL, password included: say less.
		return nil, fmt.Errorf("store: invalid PostgreSQL URL %s", RedactURL(connURL))
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", RedactURL(connURL), err)
	}
	s := &Postgres{pool: pool, retryFor: o.RetryFor, held: make(chan struct{}, max(1, cfg.MaxConns/2))}
	if err := s.retry(ctx, s.migrate); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: %s: %w", RedactURL(connURL), err)
	}
	return s, nil
}

// migrationLock is the advisory lock key under which one process at a time
// applies migrations (an arbitrary constant: "vsmig" in ASCII).
const migrationLock = 0x76736d6967

// migrate applies the embedded migrations the database lacks, all in one
// transaction under an advisory lock, so that instances starting together
// do not race.
func (s *Postgres) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&have); err != nil {
			return err
		}
		if have > len(names) {
			return fmt.Errorf("the database's schema is version %d, newer than this program's %d", have, len(names))
		}
		for i, name := range names {
			v, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "migrations/"), "_", 2)[0])
			if err != nil || v != i+1 {
				return fmt.Errorf("migration %s is out of sequence", name)
			}
			if v <= have {
				continue
			}
			sql, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", v); err != nil {
				return err
			}
		}
		return nil
	})
}

// transient reports whether err is a lost connection or server (worth
// retrying the whole transaction) rather than a refusal of the statement.
func transient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "40"),                           // serialization failure, deadlock
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutdown, crash, starting up
			pe.Code == "53300": // too many connections
			return true
		}
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.As(err, &ne) || errors.As(err, &ce) || pgconn.SafeToRetry(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// retry runs f until it succeeds, fails for good, ctx ends, or the
// database stays unreachable for s.retryFor. Every f here is one
// transaction whose effect is idempotent, so re-running one whose commit
// was lost on the way back is safe.
func (s *Postgres) retry(ctx context.Context, f func(context.Context) error) error {
	deadline := time.Now().Add(s.retryFor)
	wait := 20 * time.Millisecond
	for {
		err := f(ctx)
		if err == nil || !transient(err) {
			return err
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		s.retries.Add(1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// Add implements Store: one transaction that locks the account's row, so
// that concurrent uploads to one account (from any process) see each
// other's ids, inserts the new ids (the primary key makes a repeated id a
// no-op), stores the match records and updates the totals.
func (s *Postgres) Add(ctx context.Context, account string, items []Item) ([]Status, error) {
	if err := checkAccount(account); err != nil {
		return nil, err
	}
	for i := range items {
		if err := checkItem(&items[i]); err != nil {
			return nil, err
		}
	}
	// The first occurrence of an id in the batch is the one that may be
	// added; later ones are duplicates whatever the database holds.
	first := make(map[[16]byte]int, len(items))
	var ids [][]byte
	var kinds []int16
	for i := range items {
		if _, ok := first[items[i].ID]; !ok {
			first[items[i].ID] = i
			ids = append(ids, items[i].ID[:])
			kinds = append(kinds, int16(items[i].Kind))
		}
	}
	var mIDs, mShares, mRecs [][]byte
	for i := range items {
		if it := &items[i]; it.Kind == Match {
			mIDs, mShares, mRecs = append(mIDs, it.ID[:]), append(mShares, it.Share[:]), append(mRecs, it.Record)
		}
	}
	st := make([]Status, len(items))
	err := s.retry(ctx, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			aid, err := lockAccountRow(ctx, tx, account)
			if err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `INSERT INTO vouchers (account_id, id, kind)
				SELECT $1, u.id, u.kind FROM unnest($2::bytea[], $3::smallint[]) AS u(id, kind)
				ON CONFLICT DO NOTHING RETURNING id`, aid, ids, kinds)
			if err != nil {
				return err
			}
			added := map[[16]byte]bool{}
			var id []byte
			_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
				added[[16]byte(id)] = true
				return nil
			})
			if err != nil {
				return err
			}
			var c Counts
			for i := range items {
				it := &items[i]
				if first[it.ID] != i || !added[it.ID] {
					st[i] = Duplicate
					continue
				}
				st[i] = Added
				c.Vouchers++
				switch it.Kind {
				case Match:
					c.Matches++
				case NonMatch:
					c.NonMatches++
				case Invalid:
					c.Invalid++
				}
			}
			if len(mIDs) > 0 {
				// A record under an id already stored with another share is a
				// conflict, kept for the reveal; the same share is a retry.
				tag, err := tx.Exec(ctx, `INSERT INTO match_records (account_id, id, share, record)
					SELECT $1, u.id, u.share, u.record FROM unnest($2::bytea[], $3::bytea[], $4::bytea[]) AS u(id, share, record)
					ON CONFLICT DO NOTHING`, aid, mIDs, mShares, mRecs)
				if err != nil {
					return err
				}
				if n := uint64(tag.RowsAffected()); n >= c.Matches {
					c.Conflicts = n - c.Matches
				} else {
					// A new id whose record was already there: a row written
					// outside this store. Refuse rather than miscount.
					return fmt.Errorf("account %q: match records without their voucher ids", account)
				}
			}
			_, err = tx.Exec(ctx, `UPDATE accounts SET vouchers = vouchers + $2, matches = matches + $3,
				non_matches = non_matches + $4, invalid = invalid + $5, conflicts = conflicts + $6
				WHERE account_id = $1`, aid, int64(c.Vouchers), int64(c.Matches), int64(c.NonMatches), int64(c.Invalid), int64(c.Conflicts))
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return st, nil
}

// lockAccountRow creates the account's row if needed and locks it until the
// transaction ends.
func lockAccountRow(ctx context.Context, tx pgx.Tx, account string) (int64, error) {
	var aid int64
	err := tx.QueryRow(ctx, "SELECT account_id FROM accounts WHERE name = $1 FOR NO KEY UPDATE", account).Scan(&aid)
	if errors.Is(err, pgx.ErrNoRows) {
		// Two transactions may both get here; the loser of the insert
		// waits for the winner's commit and then finds its row.
		if _, err := tx.Exec(ctx, "INSERT INTO accounts (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", account); err != nil {
			return 0, err
		}
		err = tx.QueryRow(ctx, "SELECT account_id FROM accounts WHERE name = $1 FOR NO KEY UPDATE", account).Scan(&aid)
	}
	return aid, err
}

// Counts implements Store.
func (s *Postgres) Counts(ctx context.Context, account string) (c Counts, ok bool, err error) {
	err = s.retry(ctx, func(ctx context.Context) error {
		var v [5]int64
		err := s.pool.QueryRow(ctx, `SELECT vouchers, matches, non_matches, invalid, conflicts
			FROM accounts WHERE name = $1`, account).Scan(&v[0], &v[1], &v[2], &v[3], &v[4])
		if errors.Is(err, pgx.ErrNoRows) {
			ok = false
			return nil
		}
		if err != nil {
			return err
		}
		c, ok = Counts{Vouchers: uint64(v[0]), Matches: uint64(v[1]), NonMatches: uint64(v[2]), Invalid: uint64(v[3]), Conflicts: uint64(v[4])}, true
		return nil
	})
	if err != nil {
		return Counts{}, false, fmt.Errorf("store: %w", err)
	}
	return c, ok, nil
}

// Records implements Store.
func (s *Postgres) Records(ctx context.Context, account string) ([][]byte, error) {
	var out [][]byte
	err := s.retry(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, `SELECT m.record FROM match_records m JOIN accounts a USING (account_id)
			WHERE a.name = $1 ORDER BY m.id, m.share`, account)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if len(out) == 0 {
			out = nil // as bbolt: no records, no slice
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return out, nil
}

// SetReveal implements Store.
func (s *Postgres) SetReveal(ctx context.Context, account string, result []byte) error {
	if err := checkAccount(account); err != nil {
		return err
	}
	err := s.retry(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `INSERT INTO accounts (name, reveal) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET reveal = EXCLUDED.reveal`, account, result)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Reveal implements Store.
func (s *Postgres) Reveal(ctx context.Context, account string) ([]byte, error) {
	var out []byte
	err := s.retry(ctx, func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx, "SELECT reveal FROM accounts WHERE name = $1", account).Scan(&out)
		if errors.Is(err, pgx.ErrNoRows) {
			out = nil
			return nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return out, nil
}

// Accounts implements Store.
func (s *Postgres) Accounts(ctx context.Context) ([]string, error) {
	var out []string
	err := s.retry(ctx, func(ctx context.Context) error {
		// COLLATE "C": byte order, as bbolt sorts, whatever the database's locale.
		rows, err := s.pool.Query(ctx, `SELECT name FROM accounts ORDER BY name COLLATE "C"`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return out, nil
}

// advisoryKey maps an account to the key of its session advisory lock.
// Two accounts sharing a key only serialise each other's reveals.
func advisoryKey(account string) int64 {
	h := sha256.Sum256([]byte("vouchsafe reveal lock\x00" + account))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// LockAccount implements Store with a session advisory lock on a
// connection kept out of the pool until unlock. A waiter polls with
// pg_try_advisory_lock rather than blocking in pg_advisory_lock, so that it
// pins no connection while it waits. If the holder's connection or the
// server is lost, the lock goes with it; the holder's own later writes fail
// or retry, and a reveal written twice is written whole each time.
func (s *Postgres) LockAccount(ctx context.Context, account string, wait bool) (func(), bool, error) {
	select {
	case s.held <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	key := advisoryKey(account)
	pause := 10 * time.Millisecond
	for {
		conn, err := s.tryLock(ctx, key)
		if err != nil {
			<-s.held
			return nil, false, fmt.Errorf("store: %w", err)
		}
		if conn != nil {
			return func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
					conn.Conn().Close(ctx) // closing the session releases its locks
				}
				conn.Release()
				<-s.held
			}, true, nil
		}
		if !wait {
			<-s.held
			return nil, false, nil
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			<-s.held
			return nil, false, ctx.Err()
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

// tryLock takes the advisory lock key on a pool connection and returns
// that connection, or nil if another session holds the lock.
func (s *Postgres) tryLock(ctx context.Context, key int64) (*pgxpool.Conn, error) {
	var conn *pgxpool.Conn
	err := s.retry(ctx, func(ctx context.Context) error {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		var ok bool
		if err := c.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
			// The lock may have been taken before the answer was lost: drop
			// the connection rather than return it to the pool locked.
			c.Conn().Close(context.Background())
			c.Release()
			return err
		}
		if !ok {
			c.Release()
			return nil
		}
		conn = c
		return nil
	})
	return conn, err
}

// Totals implements Totaler with one scan of the accounts table.
func (s *Postgres) Totals(ctx context.Context) (Totals, error) {
	var t Totals
	err := s.retry(ctx, func(ctx context.Context) error {
		var v [6]int64
		err := s.pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(vouchers), 0), coalesce(sum(matches), 0),
			coalesce(sum(non_matches), 0), coalesce(sum(invalid), 0), coalesce(sum(conflicts), 0) FROM accounts`).Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5])
		t = Totals{Accounts: uint64(v[0]), Counts: Counts{Vouchers: uint64(v[1]), Matches: uint64(v[2]), NonMatches: uint64(v[3]), Invalid: uint64(v[4]), Conflicts: uint64(v[5])}}
		return err
	})
	if err != nil {
		return Totals{}, fmt.Errorf("store: %w", err)
	}
	return t, nil
}

// Retries is the number of transactions re-run after losing the
// connection or the server since the store was opened.
func (s *Postgres) Retries() int64 { return s.retries.Load() }

// Size is the database's size in bytes (pg_database_size).
func (s *Postgres) Size(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n)
	return n, err
}

// TableSize is one table's row count and size on disk (heap, TOAST and
// indexes), for sizing.
type TableSize struct {
	Table string
	Rows  int64
	Bytes int64
}

// TableSizes reports the store's tables, for sizing (exact counts: slow on
// a big database).
func (s *Postgres) TableSizes(ctx context.Context) ([]TableSize, error) {
	var out []TableSize
	for _, name := range []string{"accounts", "vouchers", "match_records"} {
		ts := TableSize{Table: name}
		// The names are constants, not input.
		err := s.pool.QueryRow(ctx, "SELECT count(*), pg_total_relation_size('"+name+"') FROM "+name).Scan(&ts.Rows, &ts.Bytes)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		out = append(out, ts)
	}
	return out, nil
}

// Close implements Store.
func (s *Postgres) Close() error {
	s.pool.Close()
	return nil
}
