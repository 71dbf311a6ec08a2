package psi

import (
	"crypto/hkdf"
	"crypto/sha256"
	"testing"
)

// TestOuterKeyHKDF checks the written-out HKDF of outerKey against
// crypto/hkdf on pseudo-random inputs.
func TestOuterKeyHKDF(t *testing.T) {
	r := drbg("outer-key")
	for i := 0; i < 200; i++ {
		var encS, encQ [pointSize]byte
		var prefix [prefixSize]byte
		r.Read(encS[:])
		r.Read(encQ[:])
		r.Read(prefix[:])
		info := append(append([]byte(nil), prefix[:]...), encQ[:]...)
		want, err := hkdf.Key(sha256.New, encS[:], []byte(outerSalt), string(info), keySize)
		if err != nil {
			t.Fatal(err)
		}
		if got := outerKey(encS[:], prefix[:], encQ[:]); string(got[:]) != string(want) {
			t.Fatalf("input %d: outerKey %x, crypto/hkdf %x", i, got, want)
		}
	}
}
