package engine

import (
	"encoding/hex"
	"fmt"
	"math/bits"
)

// HashBits is the length of a NeuralHash in bits.
const HashBits = 96

// Hash is a 96-bit NeuralHash. Byte 0 holds bits 0..7, and bit 0 (the sign of
// the first hyperplane) is its most significant bit, so String prints the same
// 24 hex digits as the public NeuralHash reference.
type Hash [HashBits / 8]byte

// String returns the hash as 24 lower-case hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseHash parses 24 hex digits (either case).
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("hash %q: want %d hex digits, got %d", s, 2*len(h), len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("hash %q: %w", s, err)
	}
	return h, nil
}

// Distance returns the Hamming distance between two hashes.
func Distance(a, b Hash) int {
	d := 0
	for i := range a {
		d += bits.OnesCount8(a[i] ^ b[i])
	}
	return d
}
