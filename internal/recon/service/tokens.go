package service

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/vouchsafe/vouchsafe/internal/keyfile"
	"github.com/vouchsafe/vouchsafe/psi"
)

// Role is what a client may do.
type Role string

const (
	// RoleIngest may upload vouchers to its own accounts only.
	RoleIngest Role = "ingest"
	// RoleOperator may read any account, trigger reveals and read the
	// metrics; it may not upload vouchers.
	RoleOperator Role = "operator"
	// RoleReviewer may log in to the review console (/review), decide on
	// revealed matches, and read the audit log and report packages.
	RoleReviewer Role = "reviewer"
)

// MinTokenLen is the shortest bearer token accepted in a tokens file.
const MinTokenLen = 16

// MaxTokensFile bounds the size of a tokens file.
const MaxTokensFile = 16 << 20

// Client is one authenticated caller from the tokens file.
type Client struct {
	// Name identifies the client in logs, metrics and rate limits; the
	// token itself is never logged.
	Name string
	Role Role
	// Accounts are the accounts an ingest client may upload to; AnyAccount
	// when it is "*".
	Accounts   map[string]bool
	AnyAccount bool
}

// MayIngest reports whether c may upload vouchers to account.
func (c *Client) MayIngest(account string) bool {
	return c.Role == RoleIngest && (c.AnyAccount || c.Accounts[account])
}

// Tokens maps bearer tokens to clients. Only SHA-256 hashes of the tokens
// are kept.
type Tokens struct {
	hashes  [][32]byte
	clients []*Client
}

// ValidAccount reports whether name is an acceptable account (or client)
// name: 1 to 128 of A-Z a-z 0-9 . _ -, and not "." or "..".
func ValidAccount(name string) bool {
	return psi.CheckLabel(name) == nil // the rule of account labels and voucher streams
}

// LoadTokens reads a tokens file (see ParseTokens) with the rules of every
// secret file (keyfile.ReadSecret): a regular file, not readable or writable
// by group or others, of at most MaxTokensFile bytes.
func LoadTokens(path string) (*Tokens, error) {
	b, err := keyfile.ReadSecret(path, MaxTokensFile)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	t, err := ParseTokens(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ParseTokens parses a tokens file: one client per line,
//
//	NAME ROLE TOKEN [ACCOUNT...]
//
// separated by spaces or tabs. ROLE is "ingest" (at least one ACCOUNT, or
// "*" for any account: a per-account token or a per-ingest-client token)
// or "operator" or "reviewer" (no accounts). Names and accounts follow ValidAccount;
// tokens are at least MinTokenLen printable ASCII characters. Blank lines
// and lines starting with '#' are ignored. Names and tokens must be unique.
func ParseTokens(r io.Reader) (*Tokens, error) {
	t := &Tokens{}
	names := map[string]bool{}
	seen := map[[32]byte]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<10)
	total := 0
	for n := 1; sc.Scan(); n++ {
		total += len(sc.Bytes()) + 1
		if total > MaxTokensFile {
			return nil, errors.New("tokens file too large")
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return nil, fmt.Errorf("line %d: want NAME ROLE TOKEN [ACCOUNT...]", n)
		}
		c := &Client{Name: f[0], Role: Role(f[1]), Accounts: map[string]bool{}}
		if !ValidAccount(c.Name) {
			return nil, fmt.Errorf("line %d: invalid client name", n)
		}
		if names[c.Name] {
			return nil, fmt.Errorf("line %d: duplicate client name %q", n, c.Name)
		}
		tok := f[2]
		if len(tok) < MinTokenLen {
			return nil, fmt.Errorf("line %d: token shorter than %d characters", n, MinTokenLen)
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] <= ' ' || tok[i] >= 0x7f {
				return nil, fmt.Errorf("line %d: token is not printable ASCII", n)
			}
		}
		h := sha256.Sum256([]byte(tok))
		if seen[h] {
			// Say which line, never which token.
			return nil, fmt.Errorf("line %d: token already used by another client", n)
		}
		switch c.Role {
		case RoleIngest:
			if len(f) == 3 {
				return nil, fmt.Errorf("line %d: ingest client %q has no accounts", n, c.Name)
			}
			for _, a := range f[3:] {
				switch {
				case a == "*":
					c.AnyAccount = true
				case ValidAccount(a):
					c.Accounts[a] = true
				default:
					return nil, fmt.Errorf("line %d: invalid account name", n)
				}
			}
		case RoleOperator, RoleReviewer:
			if len(f) > 3 {
				return nil, fmt.Errorf("line %d: %s %q takes no accounts", n, c.Role, c.Name)
			}
		default:
			return nil, fmt.Errorf("line %d: unknown role %q (want ingest, operator or reviewer)", n, c.Role)
		}
		names[c.Name], seen[h] = true, true
		t.hashes = append(t.hashes, h)
		t.clients = append(t.clients, c)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t.clients) == 0 {
		return nil, errors.New("tokens file has no clients")
	}
	return t, nil
}

// Len is the number of clients.
func (t *Tokens) Len() int { return len(t.clients) }

// Lookup returns the client holding token, or nil. It compares the token's
// hash with every entry in constant time.
func (t *Tokens) Lookup(token string) *Client {
	if token == "" {
		return nil
	}
	h := sha256.Sum256([]byte(token))
	found := -1
	for i := range t.hashes {
		if subtle.ConstantTimeCompare(h[:], t.hashes[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return nil
	}
	return t.clients[found]
}
