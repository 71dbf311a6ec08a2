// Package psi implements the private set intersection voucher protocol of the
// Apple PSI system (ftPSI-AD: threshold PSI with associated data, synthetic
// vouchers and the detectable hash function) on P-256, as specified in
// docs/protocol.md.
//
// The server builds a blinded cuckoo table ([Table], [BuildTable]) from hash
// lists ([Intersect]), publishes it with its Merkle root, and keeps a secret
// [ServerKey] per table epoch. A client account ([Account]) turns each
// (hash, id, associated data) triple into a fixed-length voucher
// ([Client.Voucher]). The associated data is the hash and the visual
// derivative, which psi carries as opaque bytes (package
// [github.com/vouchsafe/vouchsafe/derivative] makes and reads it). The server tests each voucher on
// arrival ([Server.Match]), keeps only the matches ([MatchRecord]; how and
// where is the caller's choice), and periodically runs [Reveal], which
// decrypts the associated data of the real matches only once an account
// holds more than t of them.
//
// What the client must keep: the Account, that is its seed and the set of
// ids it has made synthetic (protocol.md §3.3, §5.9). A synthetic decision
// is made once per id and then remembered, so retries, re-runs, resumed,
// reordered and superset runs give the server the same candidates; the
// client saves the set (ClientOptions.SaveAccount) before a new synthetic
// voucher leaves it. Two copies of an account that grow their own sets (an
// account file copied to a second device, or restored from an old copy)
// can decide one id both ways, which the server sees as a conflict and
// which tells it, below the threshold, that the id matched.
//
// What the server reveals (Reveal): below the threshold only the candidate
// ids; above it the real matches, decoded with error correction
// ([tss.Decode]), with the ids whose shares were wrong (BadShareIDs), those
// sent with two different shares (ConflictIDs), and a flag for more than s
// synthetic matches that is never raised by bad shares.
//
// Wire formats (voucher, table, keys, account, match record, voucher
// stream) are versioned binary formats with magic numbers; the account and
// server key files carry a SHA-256 checksum. Every parser rejects malformed
// input with an error and never panics. The § references in this package are to
// docs/protocol.md in this repository.
//
// Constant time: the client's voucher generation takes the same code path,
// with the same elliptic-curve operations, for real and synthetic vouchers
// and selects between them in constant time. The client's Shamir and DHF
// arithmetic (package tss: the reductions of PRF output to Z_q and F_ℓ,
// share and DHF evaluation) is constant-time too, on math/bits without
// branches on secrets. Not constant-time: on the server, [tss.Detect] and
// [tss.Rank] (which skip zero entries) and [tss.Recover]'s input checks, on
// data the server holds anyway; see protocol.md §3.6.
package psi

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
)

// Suite is the only cipher suite of format version 1:
// VOUCHSAFE-P256-SHA256-AES256GCM (protocol.md §5.1).
const Suite = 0x01

// FormatVersion is the version byte of every binary format of this package.
const FormatVersion = 0x01

// HashSize is the size of a perceptual hash: 96 bits.
const HashSize = 12

// IDSize is the size of a voucher identifier.
const IDSize = 16

// DBIDSize is the size of a table identifier (the first 8 bytes of its Merkle root).
const DBIDSize = 8

// Hash is a 96-bit perceptual hash.
type Hash [HashSize]byte

// ID is a voucher (triple) identifier: 16 random bytes, not secret.
type ID [IDSize]byte

// DBID names a table epoch: the first 8 bytes of the table's Merkle root.
type DBID [DBIDSize]byte

// String returns the hash as 24 lower-case hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// String returns the id as 32 lower-case hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// String returns the db_id as 16 lower-case hex digits.
func (d DBID) String() string { return hex.EncodeToString(d[:]) }

// ParseHash parses 24 hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*HashSize {
		return h, fmt.Errorf("psi: hash %q: want %d hex digits, got %d", trunc(s), 2*HashSize, len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("psi: hash %q: not hex", trunc(s))
	}
	return h, nil
}

// ParseID parses 32 hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("psi: id %q: want %d hex digits", trunc(s), 2*IDSize)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("psi: id %q: not hex", trunc(s))
	}
	return id, nil
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Params are the protocol parameters shared by a table's clients and its
// server. They are published in the table header, so the Merkle root covers
// them.
type Params struct {
	// T is the threshold t: the server learns nothing about the associated
	// data while it holds at most T distinct real matches, and everything
	// about the real matches once it holds T+1 (RequiredMatches).
	T int
	// S is the DHF capacity s: detection works with up to S synthetic
	// matches per account.
	S int
	// ADLen is the fixed plaintext length of the associated data: 2 bytes of
	// derivative length, the 12-byte hash, the derivative, zero padding.
	ADLen int
}

// DefaultParams are t = 30 (Apple's "threshold of 30"), s = 2t = 60 and a
// 4096-byte associated data field.
var DefaultParams = Params{T: 30, S: 60, ADLen: 4096}

// Limits on Params (HKDF-Expand yields at most 8160 bytes, which bounds t and s).
const (
	MaxT     = 500
	MaxS     = 500
	MinADLen = 2 + HashSize
	MaxADLen = 1 << 20
)

// RequiredMatches is t+1, the number of distinct real matches at which the
// server can decrypt.
func (p Params) RequiredMatches() int { return p.T + 1 }

// Check reports whether the parameters are within the supported ranges.
func (p Params) Check() error {
	if p.T < 1 || p.T > MaxT {
		return fmt.Errorf("psi: threshold t=%d out of range [1, %d]", p.T, MaxT)
	}
	if p.S < 1 || p.S > MaxS {
		return fmt.Errorf("psi: DHF capacity s=%d out of range [1, %d]", p.S, MaxS)
	}
	if p.ADLen < MinADLen || p.ADLen > MaxADLen {
		return fmt.Errorf("psi: associated data length %d out of range [%d, %d]", p.ADLen, MinADLen, MaxADLen)
	}
	return nil
}

// VoucherSize is the length of every voucher for these parameters and d
// cuckoo functions: 32 + 81·d + 8(s+1) + 92 + ADLen bytes (286 + 8(s+1) +
// ADLen for d = 2, protocol.md §5.6).
func (p Params) VoucherSize(d int) int {
	return prefixSize + d*pairSize + p.rctSize()
}

// MaxDerivative is the largest visual derivative that fits the associated data.
func (p Params) MaxDerivative() int { return p.ADLen - 2 - HashSize }

// Sizes of the voucher's pieces.
const (
	prefixSize = 32
	pointSize  = 33
	tagSize    = 16
	keySize    = 32
	nonceSize  = 12
	ctSize     = keySize + tagSize // an outer ciphertext: rkey and its tag
	pairSize   = pointSize + ctSize
	xSize      = 16
	zSize      = 32
)

func (p Params) innerSize() int { return 8*(p.S+1) + xSize + zSize + p.adctSize() }
func (p Params) adctSize() int  { return nonceSize + p.ADLen + tagSize }
func (p Params) rctSize() int   { return p.innerSize() + tagSize }

// Errors shared by the parsers.
var (
	ErrMagic   = errors.New("psi: wrong magic")
	ErrVersion = errors.New("psi: unsupported format version")
	ErrSuite   = errors.New("psi: unsupported suite")
	ErrLength  = errors.New("psi: wrong length")
	ErrPoint   = errors.New("psi: invalid P-256 point")
)

// SyntheticBlur quantifies how much synthetic vouchers hide (protocol.md
// §6.5) for an account that uploaded m vouchers.
type SyntheticBlur struct {
	Rate         float64 // p
	Mean, StdDev float64 // of the synthetic count before the cap binds: m·p ± √(m·p(1−p))
	CapLo, CapHi int     // the secret cap's range
	CapStdDev    float64 // (c_hi − c_lo)/√12, once the cap binds
}

// Blur returns the §6.5 figures for parameters p, rate and m vouchers.
func Blur(p Params, rate float64, m float64) SyntheticBlur {
	lo, hi := capRange(p)
	return SyntheticBlur{
		Rate: rate, Mean: m * rate, StdDev: math.Sqrt(m * rate * (1 - rate)),
		CapLo: lo, CapHi: hi, CapStdDev: float64(hi-lo) / math.Sqrt(12),
	}
}
