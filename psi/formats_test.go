package psi

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

func TestAccountRoundTrip(t *testing.T) {
	a, err := NewAccount(drbg("acct-rt"), "alice")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 7; i++ {
		a.addSynthetic(&[]ID{idN("rt", i)}[0])
	}
	b, _ := a.MarshalBinary()
	var a2 Account
	if err := a2.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if a2.seed != a.seed || a2.SyntheticCount() != 7 || !a2.isSynthetic(&[]ID{idN("rt", 3)}[0]) || a2.Label != "alice" {
		t.Fatal("account round trip")
	}
	if strings.Contains(a.String(), string(a.seed[:4])) {
		t.Fatal("String shows the seed")
	}
	for name, bad := range map[string][]byte{
		"short":     b[:20],
		"magic":     append([]byte("XXXX"), b[4:]...),
		"version":   append(append([]byte{}, b[:4]...), append([]byte{3}, b[5:]...)...),
		"extended":  append(bytes.Clone(b), 0),
		"truncated": b[:len(b)-1],
	} {
		if err := new(Account).UnmarshalBinary(bad); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := NewAccount(drbg("x"), strings.Repeat("x", 256)); err == nil {
		t.Fatal("long label accepted")
	}
	if a.DeriveID([]byte("a")) == a.DeriveID([]byte("b")) || a.DeriveID([]byte("a")) != a2.DeriveID([]byte("a")) {
		t.Fatal("DeriveID")
	}
}

func TestServerKeyRoundTrip(t *testing.T) {
	f := newFixture(t, "keyrt", small, 5)
	b, _ := f.key.MarshalBinary()
	if len(b) != ServerKeySize {
		t.Fatalf("key of %d bytes", len(b))
	}
	var k ServerKey
	if err := k.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if err := k.CheckTable(f.table); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(k.String(), string(b[32:40])) {
		t.Fatal("String shows α")
	}
	bad := bytes.Clone(b)
	copy(bad[32:64], orderBytes[:]) // α = q
	if err := new(ServerKey).UnmarshalBinary(bad); err == nil {
		t.Fatal("α = q accepted")
	}
	bad = bytes.Clone(b)
	clear(bad[32:64])
	if err := new(ServerKey).UnmarshalBinary(bad); err == nil {
		t.Fatal("α = 0 accepted")
	}
	g := newFixture(t, "keyrt2", small, 5)
	if err := k.CheckTable(g.table); err == nil {
		t.Fatal("key accepted another table")
	}
}

func TestMatchRecordRoundTrip(t *testing.T) {
	f := newFixture(t, "store", small, 20)
	c := f.client(t, 0)
	var recs []*MatchRecord
	for i := 0; i < 8; i++ {
		y := f.members[i]
		if i%2 == 1 {
			y = hashN("store-non", i)
		}
		v, _ := c.Voucher(drbg("store"), &Triple{Hash: y, ID: idN("store", i)})
		rec, err := f.server.Match(v)
		if err != nil {
			t.Fatalf("voucher %d: %v", i, err)
		}
		// Members match, the other hashes do not.
		if (rec != nil) != (i%2 == 0) {
			t.Fatalf("voucher %d: match record %v", i, rec)
		}
		if rec != nil {
			recs = append(recs, rec)
		}
	}
	rb, _ := recs[0].MarshalBinary()
	var r MatchRecord
	if err := r.UnmarshalBinary(rb); err != nil {
		t.Fatal(err)
	}
	if rb2, _ := r.MarshalBinary(); !bytes.Equal(rb, rb2) {
		t.Fatal("record round trip")
	}
	// Field checks on records.
	for name, fn := range map[string]func(b []byte){
		"r ≥ ℓ":     func(b []byte) { copy(b[8+8+16:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) },
		"x top bit": func(b []byte) { b[8+8+16+8*(small.S+1)] &= 0x7f },
		"z ≥ q":     func(b []byte) { copy(b[8+8+16+8*(small.S+1)+16:], bytes.Repeat([]byte{0xff}, 32)) },
		"magic":     func(b []byte) { b[0] = 'X' },
		"count":     func(b []byte) { b[7] = 1 },
	} {
		bad := bytes.Clone(rb)
		fn(bad)
		if err := new(MatchRecord).UnmarshalBinary(bad); err == nil {
			t.Errorf("record with %s accepted", name)
		}
	}
	for _, n := range []int{0, 10, len(rb) - 1} {
		if err := new(MatchRecord).UnmarshalBinary(rb[:n]); err == nil {
			t.Errorf("record truncated to %d accepted", n)
		}
	}
}

func TestVoucherStream(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewVoucherWriter(&buf, "bob")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := w.Write(bytes.Repeat([]byte{byte(i)}, 10+i)); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	b := buf.Bytes()
	r, err := NewVoucherReader(bytes.NewReader(b))
	if err != nil || r.Label() != "bob" {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		v, err := r.Next()
		if err != nil || len(v) != 10+i {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	r, _ = NewVoucherReader(bytes.NewReader(b[:len(b)-2]))
	r.Next()
	r.Next()
	if _, err := r.Next(); !errors.Is(err, ErrCorruptFrame) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := NewVoucherReader(bytes.NewReader([]byte("VSVX"))); err == nil {
		t.Fatal("bad header accepted")
	}
}

// Every single-bit flip of an account or server key file is an error
// (issue 11: flipped key bits used to give wrong results with exit 0).
func TestKeyFilesBitFlips(t *testing.T) {
	f := newFixture(t, "flips", small, 5)
	f.account.addSynthetic(&[]ID{idN("flip", 1)}[0])
	ab, _ := f.account.MarshalBinary()
	kb, _ := f.key.MarshalBinary()
	for name, b := range map[string][]byte{"account": ab, "server key": kb} {
		for i := range 8 * len(b) {
			c := bytes.Clone(b)
			c[i/8] ^= 1 << (i % 8)
			var err error
			if name == "account" {
				err = new(Account).UnmarshalBinary(c)
			} else {
				err = new(ServerKey).UnmarshalBinary(c)
			}
			if err == nil {
				t.Fatalf("%s with bit %d flipped accepted", name, i)
			}
		}
	}
}

func TestCheckLabel(t *testing.T) {
	for _, ok := range []string{"a", "acct-0123456789abcdef", "A.b_c-9", strings.Repeat("x", MaxLabel)} {
		if err := CheckLabel(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a b", "a\nb", "a\x00", "\xff", "é", "a/b", strings.Repeat("x", MaxLabel+1)} {
		if err := CheckLabel(bad); !errors.Is(err, ErrLabel) {
			t.Errorf("%q accepted", bad)
		}
		if _, err := NewAccount(drbg("l"), bad); err == nil {
			t.Errorf("NewAccount(%q) accepted", bad)
		}
	}
	if _, err := NewVoucherWriter(io.Discard, "a\tb"); err == nil {
		t.Error("stream label with a tab accepted")
	}
}

func TestIntersect(t *testing.T) {
	a, b, c, d := hashN("i", 1), hashN("i", 2), hashN("i", 3), hashN("i", 4)
	srcs := []Source{
		{"ncmec", "US", []Hash{a, b, c}},
		{"other-us", "US", []Hash{b, d}},
		{"iwf", "UK", []Hash{a, c, c}},
	}
	got, _ := Intersect(srcs, DefaultRule)
	if len(got) != 2 || !(got[0] == a && got[1] == c || got[0] == c && got[1] == a) {
		t.Fatalf("default rule: %v", got)
	}
	// b: two sources, one jurisdiction: kept only when one jurisdiction suffices.
	got, _ = Intersect(srcs, Rule{MinSources: 2, MinJurisdictions: 1})
	if len(got) != 3 {
		t.Fatalf("2 sources any jurisdiction: %v", got)
	}
	got, _ = Intersect(srcs, Rule{MinSources: 1, MinJurisdictions: 1})
	if len(got) != 4 {
		t.Fatalf("union: %v", got)
	}
	if _, err := Intersect(srcs, Rule{}); err == nil {
		t.Fatal("zero rule accepted")
	}
}

// The §6.5 synthetic-blur figures for the default parameters.
func TestBlur(t *testing.T) {
	b := Blur(DefaultParams, DefaultSyntheticRate(DefaultParams), 1000)
	if math.Abs(b.Mean-4.2) > 1e-9 || math.Abs(b.StdDev-2.045) > 0.01 || b.CapLo != 30 || b.CapHi != 54 {
		t.Fatalf("blur %+v", b)
	}
}

// A version 1 account that never made a synthetic voucher converts exactly
// (S = ∅); one that did is refused (its ids were never recorded).
func TestAccountVersion1(t *testing.T) {
	a, _ := NewAccount(drbg("v1"), "old")
	v1 := append([]byte("VSAC\x01\x00\x00\x00"), a.seed[:]...)
	v1 = append(v1, 0, 0, 0, 0, 0, 0, 0, 0, 3)
	v1 = append(v1, "old"...)
	var b Account
	if err := b.UnmarshalBinary(v1); err != nil || b.seed != a.seed || b.Label != "old" || b.SyntheticCount() != 0 {
		t.Fatalf("version 1, count 0: %v", err)
	}
	if enc, _ := b.MarshalBinary(); enc[4] != accountVersion {
		t.Fatal("converted account not written as version 2")
	}
	v1[47] = 1
	if err := new(Account).UnmarshalBinary(v1); !errors.Is(err, ErrOldAccount) {
		t.Fatalf("version 1, count 1: %v", err)
	}
}
