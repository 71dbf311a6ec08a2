package tss_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"log"

	"github.com/vouchsafe/vouchsafe/tss"
)

// example32 returns a fixed scalar below q, reduced from a SHA-256 digest;
// real coefficients come from a CSPRNG or HKDF through ScalarFromBytes.
func example32(label string) [tss.ZSize]byte {
	s := sha256.Sum256([]byte(label))
	return tss.ScalarFromBytes(s[:])
}

// exampleX returns a share x-coordinate with its top bit set.
func exampleX(i int) [tss.XSize]byte {
	var x [tss.XSize]byte
	x[0] = 0x80
	x[tss.XSize-1] = byte(i)
	return x
}

// A secret split with threshold t = 2: any 3 shares recover it, and Recover
// takes exactly t+1 of them.
func Example() {
	const t = 2
	coeffs := [][tss.ZSize]byte{example32("secret"), example32("a1"), example32("a2")}
	p, err := tss.NewPolynomial(coeffs)
	if err != nil {
		log.Fatal(err)
	}
	var shares []tss.Share
	for i := 1; i <= 5; i++ {
		s, err := p.Share(exampleX(i))
		if err != nil {
			log.Fatal(err)
		}
		shares = append(shares, s)
	}
	secret := p.Secret()
	got, err := tss.Recover(t, shares[2:5])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("recovered:", got == secret)
	_, err = tss.Recover(t, shares[:2])
	fmt.Println(err)
	// Output:
	// recovered: true
	// tss: recovery needs exactly t+1 = 3 shares, got 2
}

// Decode corrects wrong shares: with m = 5 shares at t = 2 it corrects
// MaxCorrectable(2, 5) = 1 of them, and names it.
func ExampleDecode() {
	const t = 2
	p, err := tss.NewPolynomial([][tss.ZSize]byte{example32("secret"), example32("a1"), example32("a2")})
	if err != nil {
		log.Fatal(err)
	}
	var shares []tss.Share
	for i := 1; i <= 5; i++ {
		s, err := p.Share(exampleX(i))
		if err != nil {
			log.Fatal(err)
		}
		shares = append(shares, s)
	}
	secret := p.Secret()
	shares[3].Z = example32("corrupt") // a wrong share value, still below q

	// Recover cannot tell: interpolating through the wrong share gives a
	// different secret, which the caller's AEAD check would reject.
	r, err := tss.Recover(t, shares[1:4])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("Recover right:", bytes.Equal(r[:], secret[:]))

	got, bad, err := tss.Decode(t, shares)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("correctable:", tss.MaxCorrectable(t, len(shares)))
	fmt.Println("Decode right:", got == secret, "bad shares:", bad)

	// Two wrong shares among five are beyond unique decoding.
	shares[0].Z = example32("corrupt too")
	_, _, err = tss.Decode(t, shares)
	fmt.Println(errors.Is(err, tss.ErrUndecodable))
	// Output:
	// Recover right: false
	// correctable: 1
	// Decode right: true bad shares: [3]
	// true
}
