// Package pdq implements PDQ, the 256-bit perceptual image hash published by
// Meta (facebook/ThreatExchange, "pdq"), with its quality score and its eight
// dihedral variants.
//
// The pipeline is the reference's: RGB to luminance (Y = 0.299 R + 0.587 G +
// 0.114 B), a Jarosz tent filter (two X/Y passes of box filters whose window
// is the image dimension / 128, rounded up) decimated to 64×64, a 2-D DCT of
// which the 16×16 lowest non-DC frequencies are kept, and one bit per
// coefficient set when the coefficient exceeds the median. The quality score
// (0 to 100) counts significant gradients in the 64×64 image; Meta
// recommends ignoring hashes with quality below 50 or so.
//
// The whole image is filtered at full resolution, as in the published
// algorithm, Meta's Java port and the reference hashes of Meta's regression
// images. (Later versions of Meta's pdq-photo-hasher first shrink images
// larger than 512 pixels to 512×512 by nearest neighbour to save time; on
// the regression images that moves the hashes further from Meta's published
// ones, so this package does not.)
//
// Decoding matters at the level of a few bits. Meta's C++ tool decodes
// through libjpeg; so does [Decode] (and [FromBytes]) in builds with cgo, set up
// as that tool's ImageMagick front end sets it (floating-point IDCT; 4:2:0
// chroma upsampled by the scaled IDCT, as IJG libjpeg 7 and later do).
// Without cgo, image/jpeg decodes, and [Hash] upsamples the chroma of the
// *image.YCbCr it returns as libjpeg does (triangular filter, libjpeg's
// fixed-point YCbCr conversion) rather than as image.YCbCr.At does; what
// remains is image/jpeg's different IDCT rounding. On Meta's 15 regression
// images the hashes are 0 to 8 bits (48 in total) from Meta's C++ hashes
// with the cgo decoder, 74 in total with image/jpeg; Meta's Python port is 64
// in total.
//
// Hashes print as 64 lowercase hex digits in the reference's order: bit k of
// the hash (k = 16·row + column of the 16×16 DCT block) is bit k of the
// 256-bit big-endian number the hex string spells.
package pdq

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
)

// Size is the length of a hash in bytes.
const Size = 32

// Bits is the length of a hash in bits.
const Bits = 8 * Size

// MatchThreshold is the Hamming distance at or below which Meta's reference
// tools treat two PDQ hashes as a match.
const MatchThreshold = 31

// Hash is a 256-bit PDQ hash. Byte 0 holds the most significant bits of the
// number its hex form spells (see the package documentation).
type Hash [Size]byte

// ErrHashSyntax is returned (wrapped) by ParseHash and UnmarshalText for text
// that is not 64 hex digits.
var ErrHashSyntax = errors.New("pdq: a hash is 64 hex digits")

// String returns the hash as 64 lowercase hex digits, the reference's format.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler with the String form.
func (h Hash) MarshalText() ([]byte, error) {
	b := make([]byte, 2*Size)
	hex.Encode(b, h[:])
	return b, nil
}

// UnmarshalText implements encoding.TextUnmarshaler; it accepts what
// ParseHash accepts.
func (h *Hash) UnmarshalText(text []byte) error {
	v, err := parse(text)
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// ParseHash parses 64 hex digits (either case), as printed by String and by
// Meta's tools.
func ParseHash(s string) (Hash, error) { return parse([]byte(s)) }

func parse(b []byte) (Hash, error) {
	var h Hash
	if len(b) != 2*Size {
		return h, fmt.Errorf("%w: %q has %d characters", ErrHashSyntax, truncate(b), len(b))
	}
	for i := 0; i < Size; i++ {
		hi, ok1 := unhex(b[2*i])
		lo, ok2 := unhex(b[2*i+1])
		if !ok1 || !ok2 {
			return Hash{}, fmt.Errorf("%w: %q has a non-hex character at offset %d", ErrHashSyntax, truncate(b), 2*i)
		}
		h[i] = hi<<4 | lo
	}
	return h, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// Bit reports whether bit k (0 ≤ k < 256) of the hash is set: the bit of DCT
// coefficient (k/16, k%16). It reports false for k out of range.
func (h Hash) Bit(k int) bool {
	if k < 0 || k >= Bits {
		return false
	}
	return h[Size-1-k/8]>>(k%8)&1 == 1
}

func (h *Hash) setBit(k int) { h[Size-1-k/8] |= 1 << (k % 8) }

// Distance returns the Hamming distance between a and b: the number of bits
// in which they differ, from 0 to 256.
func Distance(a, b Hash) int {
	n := 0
	for i := 0; i < Size; i += 8 {
		x := uint64(a[i]) | uint64(a[i+1])<<8 | uint64(a[i+2])<<16 | uint64(a[i+3])<<24 |
			uint64(a[i+4])<<32 | uint64(a[i+5])<<40 | uint64(a[i+6])<<48 | uint64(a[i+7])<<56
		y := uint64(b[i]) | uint64(b[i+1])<<8 | uint64(b[i+2])<<16 | uint64(b[i+3])<<24 |
			uint64(b[i+4])<<32 | uint64(b[i+5])<<40 | uint64(b[i+6])<<48 | uint64(b[i+7])<<56
		n += bits.OnesCount64(x ^ y)
	}
	return n
}
