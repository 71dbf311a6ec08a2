package psi

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/vouchsafe/vouchsafe/tss"
)

const accountMagic = "VSAC"

// accountVersion is the account file format. Version 1 kept a count of
// synthetic vouchers, which a re-run could not reproduce (protocol.md §3.3);
// version 2 keeps the set of synthetic ids and a checksum.
const accountVersion = 0x02

// MaxLabel bounds an account label.
const MaxLabel = 128

// MaxSyntheticIDs bounds the synthetic set an account file holds: the cap C
// is at most s ≤ MaxS.
const MaxSyntheticIDs = MaxS

// ErrLabel is wrapped by every error about an account label's syntax.
var ErrLabel = errors.New("psi: invalid account label")

// ErrChecksum is returned for an account or server key file whose checksum
// does not match its contents (a corrupt or altered file).
var ErrChecksum = errors.New("psi: checksum mismatch (the file is corrupt)")

// ErrOldAccount is returned for an account file of format version 1 that
// has made synthetic vouchers: it recorded only their number, not their
// ids, so the ids cannot be made synthetic again and the file cannot be
// converted without telling the server which candidates were synthetic.
var ErrOldAccount = errors.New("psi: account file format version 1 with synthetic vouchers cannot be converted " +
	"(it kept a count, not the synthetic ids); keep using the vouchsafe release that wrote it for this library, " +
	"or start a new account")

// CheckLabel reports whether label is a valid account label: 1 to 128
// bytes of A-Z a-z 0-9 '.' '_' '-', and not "." or "..". It is the rule the
// reconstructor service applies to account names, so a label always names
// the same account on the wire, in a file and in the service: no control
// characters, no invalid UTF-8, no look-alike spellings.
func CheckLabel(label string) error {
	if label == "" || len(label) > MaxLabel || label == "." || label == ".." {
		return fmt.Errorf("%w %q: want 1 to %d of A-Z a-z 0-9 . _ - (not \".\" or \"..\")", ErrLabel, trunc(label), MaxLabel)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			r, _ := utf8.DecodeRuneInString(label[i:])
			return fmt.Errorf("%w %q: character %q at byte %d (want A-Z a-z 0-9 . _ -)", ErrLabel, trunc(label), r, i)
		}
	}
	return nil
}

// Account is a client account's persistent state (protocol.md §3.1): a
// 32-byte seed from which every device derives the same keys, Shamir
// polynomial and DHF; the set S of ids the account has made synthetic
// (protocol.md §3.3), at most C ≤ s of them; and a public label the server
// files the account's vouchers under.
//
// The seed is secret, and so is S: below the threshold it is exactly what
// the server must not learn. S must be kept: an id in S is synthetic on
// every later run, so retries, re-runs, resumed, reordered and superset
// runs all give the server the same candidate set. Losing S (restoring an
// old copy of the file, or two devices each growing their own copy) lets
// an id come out synthetic once and real another time, which tells the
// server, below the threshold, which candidates were synthetic.
// [Account.String] never prints the seed or S.
//
// The methods are safe for concurrent use by the clients of one process.
// Separate processes must not write one account file at once (the CLI
// holds a lock for the whole run).
type Account struct {
	seed [32]byte
	// Label is a public account name; see CheckLabel.
	Label string

	mu        sync.Mutex
	synthetic map[ID]struct{}
}

// NewAccount draws a fresh seed from rand. The label must pass CheckLabel.
func NewAccount(rand io.Reader, label string) (*Account, error) {
	if err := CheckLabel(label); err != nil {
		return nil, err
	}
	a := &Account{Label: label}
	if _, err := io.ReadFull(rand, a.seed[:]); err != nil {
		return nil, fmt.Errorf("psi: reading randomness: %w", err)
	}
	return a, nil
}

// String names the account by its label only.
func (a *Account) String() string { return "psi.Account(" + a.Label + ")" }

// SyntheticCount is |S|, the number of ids made synthetic so far.
func (a *Account) SyntheticCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.synthetic)
}

// isSynthetic reports whether id is in S. The caller holds a.mu.
func (a *Account) isSynthetic(id *ID) bool {
	_, ok := a.synthetic[*id]
	return ok
}

// addSynthetic adds id to S. The caller holds a.mu.
func (a *Account) addSynthetic(id *ID) {
	if a.synthetic == nil {
		a.synthetic = make(map[ID]struct{})
	}
	a.synthetic[*id] = struct{}{}
}

// accountFixed is the size of an encoded account without ids and label.
const accountFixed = 4 + 4 + 32 + 2 + 1 + sha256.Size

// MarshalBinary encodes the account (format version 2):
//
//	"VSAC" ‖ 0x02 ‖ 0 0 0 ‖ seed(32) ‖ BE16(|S|) ‖ S (16 bytes each, sorted) ‖
//	len(label)(1) ‖ label ‖ SHA-256(everything before)
func (a *Account) MarshalBinary() ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.marshalLocked()
}

// marshalLocked is MarshalBinary; the caller holds a.mu.
func (a *Account) marshalLocked() ([]byte, error) {
	if err := CheckLabel(a.Label); err != nil {
		return nil, err
	}
	ids := make([]ID, 0, len(a.synthetic))
	for id := range a.synthetic {
		ids = append(ids, id)
	}
	if len(ids) > MaxSyntheticIDs {
		return nil, fmt.Errorf("psi: account has %d synthetic ids, more than %d", len(ids), MaxSyntheticIDs)
	}
	sortIDs(ids)
	b := make([]byte, 0, accountFixed+IDSize*len(ids)+len(a.Label))
	b = append(b, accountMagic...)
	b = append(b, accountVersion, 0, 0, 0)
	b = append(b, a.seed[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ids)))
	for _, id := range ids {
		b = append(b, id[:]...)
	}
	b = append(b, byte(len(a.Label)))
	b = append(b, a.Label...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...), nil
}

// UnmarshalBinary decodes an account written by MarshalBinary. It checks
// the checksum before anything else it reads, so a flipped bit anywhere is
// an error, never a different account. A version 1 file is converted when
// it has made no synthetic vouchers (then S is empty, exactly) and is
// refused with ErrOldAccount otherwise.
func (a *Account) UnmarshalBinary(b []byte) error {
	if len(b) < 8 || string(b[:4]) != accountMagic {
		return fmt.Errorf("psi: account: %w", ErrMagic)
	}
	if b[4] == 0x01 {
		return a.unmarshalV1(b)
	}
	if b[4] != accountVersion {
		return fmt.Errorf("psi: account: %w %d", ErrVersion, b[4])
	}
	if len(b) < accountFixed {
		return fmt.Errorf("psi: account: %w: %d bytes", ErrLength, len(b))
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	want := sha256.Sum256(body)
	if subtle.ConstantTimeCompare(sum, want[:]) != 1 {
		return fmt.Errorf("psi: account: %w", ErrChecksum)
	}
	if b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return errors.New("psi: account: reserved bytes are not zero")
	}
	n := int(binary.BigEndian.Uint16(b[40:42]))
	if n > MaxSyntheticIDs {
		return fmt.Errorf("psi: account: %d synthetic ids, more than %d", n, MaxSyntheticIDs)
	}
	off := 42 + IDSize*n
	if len(body) < off+1 {
		return fmt.Errorf("psi: account: %w: %d bytes", ErrLength, len(b))
	}
	l := int(body[off])
	if len(body) != off+1+l {
		return fmt.Errorf("psi: account: %w: %d bytes, want %d", ErrLength, len(b), off+1+l+sha256.Size)
	}
	label := string(body[off+1:])
	if err := CheckLabel(label); err != nil {
		return fmt.Errorf("psi: account: %w", err)
	}
	set := make(map[ID]struct{}, n)
	var prev []byte
	for i := 0; i < n; i++ {
		idb := body[42+IDSize*i : 42+IDSize*(i+1)]
		if prev != nil && bytes.Compare(prev, idb) >= 0 {
			return errors.New("psi: account: synthetic ids are not sorted and distinct")
		}
		prev = idb
		set[ID(idb)] = struct{}{}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	copy(a.seed[:], b[8:40])
	a.Label = label
	a.synthetic = set
	return nil
}

// unmarshalV1 reads a version 1 account:
// "VSAC" ‖ 0x01 ‖ 0 0 0 ‖ seed(32) ‖ synthetic count(8) ‖ len(label)(1) ‖ label.
func (a *Account) unmarshalV1(b []byte) error {
	if len(b) < 49 {
		return fmt.Errorf("psi: account (version 1): %w: %d bytes", ErrLength, len(b))
	}
	if b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return errors.New("psi: account (version 1): reserved bytes are not zero")
	}
	if n := int(b[48]); len(b) != 49+n {
		return fmt.Errorf("psi: account (version 1): %w: %d bytes, want %d", ErrLength, len(b), 49+n)
	}
	if binary.BigEndian.Uint64(b[40:48]) != 0 {
		return ErrOldAccount
	}
	label := string(b[49:])
	if err := CheckLabel(label); err != nil {
		return fmt.Errorf("psi: account (version 1): %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	copy(a.seed[:], b[8:40])
	a.Label = label
	a.synthetic = nil
	return nil
}

// accountKeys is the state derived from an account seed for one (t, s).
type accountKeys struct {
	prkF  []byte // PRK_f = HKDF-Extract("VOUCHSAFE-V01 prf", fkey)
	poly  *tss.Polynomial
	adkey []byte
	dhf   *tss.DHF
	cap   uint64 // C, the secret synthetic cap
}

func expand(prk []byte, info string, n int) []byte {
	b, err := hkdf.Expand(sha256.New, prk, info, n)
	if err != nil {
		panic("psi: HKDF-Expand: " + err.Error()) // n is bounded by Params.Check
	}
	return b
}

func extract(salt string, ikm []byte) []byte {
	prk, err := hkdf.Extract(sha256.New, ikm, []byte(salt))
	if err != nil {
		panic("psi: HKDF-Extract: " + err.Error()) // cannot happen for SHA-256
	}
	return prk
}

// capRange is [c_lo, c_hi] (protocol.md §3.3): c_lo = t, c_hi = s − ⌈s/10⌉,
// clamped so that c_lo ≤ c_hi ≤ s.
func capRange(p Params) (lo, hi int) {
	lo = min(p.T, p.S)
	hi = max(lo, p.S-(p.S+9)/10)
	return lo, hi
}

// deriveKeys derives fkey, hkey, the Shamir coefficients, adkey, the DHF and
// the cap from the seed (protocol.md §3.1).
func (a *Account) deriveKeys(p Params) (*accountKeys, error) {
	prkM := extract("VOUCHSAFE-V01 account", a.seed[:])
	fkey := expand(prkM, "fkey", 32)
	hkey := expand(prkM, "dhf", 32)
	k := &accountKeys{prkF: extract("VOUCHSAFE-V01 prf", fkey)}
	coeffs := make([][tss.ZSize]byte, p.T+1)
	for i := range coeffs {
		info := "shamir" + string([]byte{byte(i >> 8), byte(i)})
		coeffs[i] = tss.ScalarFromBytes(expand(prkM, info, 48))
	}
	poly, err := tss.NewPolynomial(coeffs)
	if err != nil {
		return nil, err
	}
	k.poly = poly
	a0 := poly.Secret()
	adkey, err := hkdf.Key(sha256.New, a0[:], []byte("VOUCHSAFE-V01 adkey"), "", 32)
	if err != nil {
		return nil, err
	}
	k.adkey = adkey
	prkD := extract("VOUCHSAFE-V01 dhf", hkey)
	rows := make([][]tss.Elem, p.S)
	for i := range rows {
		info := "row" + string([]byte{byte((i + 1) >> 8), byte(i + 1)})
		buf := expand(prkD, info, 16*p.T)
		rows[i] = make([]tss.Elem, p.T)
		for j := range rows[i] {
			rows[i][j] = tss.ElemFrom128((*[16]byte)(buf[16*j : 16*j+16]))
		}
	}
	if k.dhf, err = tss.NewDHF(p.T, p.S, rows); err != nil {
		return nil, err
	}
	lo, hi := capRange(p)
	c := binary.BigEndian.Uint64(expand(prkM, "cap", 8))
	k.cap = uint64(lo) + c%uint64(hi-lo+1)
	return k, nil
}

// shareValues holds B = PRF(fkey, id) split as in protocol.md §3.2.
type shareValues struct {
	x      [xSize]byte
	zDummy [zSize]byte
	x0     tss.Elem
	rDummy []tss.Elem // s+1 values
}

func (k *accountKeys) prf(id *ID, s int) *shareValues {
	info := "share\x00" + string(id[:])
	b := expand(k.prkF, info, 80+16*(s+1))
	sv := &shareValues{rDummy: make([]tss.Elem, s+1)}
	copy(sv.x[:], b[0:16])
	sv.x[0] |= 0x80
	sv.zDummy = tss.ScalarFromBytes(b[16:64])
	sv.x0 = tss.ElemFrom128((*[16]byte)(b[64:80]))
	for i := 0; i <= s; i++ {
		sv.rDummy[i] = tss.ElemFrom128((*[16]byte)(b[80+16*i : 96+16*i]))
	}
	return sv
}

// syntheticDraw is u = BE64(HKDF-Expand(PRK_f, "synthetic" ‖ 0x00 ‖ id, 8)).
func (k *accountKeys) syntheticDraw(id *ID) uint64 {
	return binary.BigEndian.Uint64(expand(k.prkF, "synthetic\x00"+string(id[:]), 8))
}

// DeriveID returns a pseudorandom voucher id for a named input (for
// example a file path and its hash): HKDF-Expand(PRK_m, "id" ‖ 0x00 ‖ name,
// 16). Re-running a client over the same inputs then gives the same ids, so
// the server counts each input once, while the ids reveal nothing about the
// names to anyone without the account seed. Use NewID for fresh random ids.
func (a *Account) DeriveID(name []byte) ID {
	prkM := extract("VOUCHSAFE-V01 account", a.seed[:])
	var id ID
	copy(id[:], expand(prkM, "id\x00"+string(name), IDSize))
	return id
}
