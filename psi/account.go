package psi

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/vouchsafe/vouchsafe/tss"
)

const accountMagic = "VSAC"

// MaxLabel bounds an account label.
const MaxLabel = 255

// Account is a client account's persistent state (protocol.md §3.1): a
// 32-byte seed from which every device derives the same keys, Shamir
// polynomial and DHF, and the synced count of synthetic vouchers. The label
// is a public name the server files the account's vouchers under. The seed
// is secret; String never prints it.
type Account struct {
	seed [32]byte
	// Synthetic is the number of synthetic vouchers made so far (synced
	// between devices; protocol.md §3.3).
	Synthetic uint64
	// Label is a public account name (at most 255 bytes).
	Label string
}

// NewAccount draws a fresh seed from rand.
func NewAccount(rand io.Reader, label string) (*Account, error) {
	if len(label) > MaxLabel {
		return nil, fmt.Errorf("psi: account label longer than %d bytes", MaxLabel)
	}
	a := &Account{Label: label}
	if _, err := io.ReadFull(rand, a.seed[:]); err != nil {
		return nil, fmt.Errorf("psi: reading randomness: %w", err)
	}
	return a, nil
}

// String names the account by its label only.
func (a *Account) String() string { return "psi.Account(" + a.Label + ")" }

// MarshalBinary encodes the account:
// "VSAC" ‖ version ‖ 0 0 0 ‖ seed(32) ‖ synthetic(8) ‖ len(label)(1) ‖ label.
func (a *Account) MarshalBinary() ([]byte, error) {
	if len(a.Label) > MaxLabel {
		return nil, fmt.Errorf("psi: account label longer than %d bytes", MaxLabel)
	}
	b := make([]byte, 0, 49+len(a.Label))
	b = append(b, accountMagic...)
	b = append(b, FormatVersion, 0, 0, 0)
	b = append(b, a.seed[:]...)
	b = binary.BigEndian.AppendUint64(b, a.Synthetic)
	b = append(b, byte(len(a.Label)))
	b = append(b, a.Label...)
	return b, nil
}

// UnmarshalBinary decodes an account written by MarshalBinary.
func (a *Account) UnmarshalBinary(b []byte) error {
	if len(b) < 4 || string(b[:4]) != accountMagic {
		return fmt.Errorf("psi: account: %w", ErrMagic)
	}
	if len(b) < 49 {
		return fmt.Errorf("psi: account: %w: %d bytes", ErrLength, len(b))
	}
	if b[4] != FormatVersion {
		return fmt.Errorf("psi: account: %w %d", ErrVersion, b[4])
	}
	if b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return errors.New("psi: account: reserved bytes are not zero")
	}
	n := int(b[48])
	if len(b) != 49+n {
		return fmt.Errorf("psi: account: %w: %d bytes, want %d", ErrLength, len(b), 49+n)
	}
	var na Account
	copy(na.seed[:], b[8:40])
	na.Synthetic = binary.BigEndian.Uint64(b[40:48])
	na.Label = string(b[49:])
	*a = na
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
