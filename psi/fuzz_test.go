package psi

import (
	"bytes"
	"io"
	"testing"
)

// Every parser gets a fuzz target: no panic, and a successful parse
// re-encodes to the same bytes where the format is canonical.

func FuzzParseTable(f *testing.F) {
	fx := newFixture(f, "fuzz-table", small, 3)
	f.Add(fx.table.Bytes())
	f.Add(fx.table.Bytes()[:fx.table.HeaderSize()])
	f.Add([]byte("VSDB\x01\x01\x02\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tb, err := ParseTable(b)
		if err != nil {
			return
		}
		if !bytes.Equal(tb.Bytes(), b) {
			t.Fatal("table bytes changed")
		}
		_ = tb.Validate(1)
	})
}

func FuzzMatch(f *testing.F) {
	fx := newFixture(f, "fuzz-match", small, 3)
	c := fx.client(f, 0)
	for i, y := range []Hash{fx.members[0], hashN("fuzz", 1)} {
		v, err := c.Voucher(drbg("fuzz-v"), &Triple{Hash: y, ID: idN("fuzz", i), Derivative: []byte("x")})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v)
		f.Add(v[:40])
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		h, herr := ParseVoucherHeader(v)
		rec, err := fx.server.Match(v)
		if herr != nil && err == nil {
			t.Fatal("Match accepted a voucher whose header does not parse")
		}
		if rec != nil {
			if rec.ID != h.ID || len(rec.R) != small.S+1 {
				t.Fatal("record does not match the header")
			}
			b, _ := rec.MarshalBinary()
			var r2 MatchRecord
			if err := r2.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzAccount(f *testing.F) {
	a, _ := NewAccount(drbg("fuzz-acct"), "carol")
	b, _ := a.MarshalBinary()
	f.Add(b)
	f.Add(b[:48])
	v1 := append([]byte("VSAC\x01\x00\x00\x00"), make([]byte, 41)...)
	f.Add(append(v1[:48:48], 1, 'a'))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Account
		if a.UnmarshalBinary(b) != nil {
			return
		}
		b2, err := a.MarshalBinary()
		if b[4] == 0x01 { // a converted version 1 file: re-encoded as version 2
			var a2 Account
			if err != nil || a2.UnmarshalBinary(b2) != nil || a2.seed != a.seed || a2.Label != a.Label || a2.SyntheticCount() != 0 {
				t.Fatal("converted account does not round-trip")
			}
			return
		}
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatal("account does not round-trip")
		}
	})
}

func FuzzServerKey(f *testing.F) {
	fx := newFixture(f, "fuzz-key", small, 2)
	b, _ := fx.key.MarshalBinary()
	f.Add(b)
	f.Add(b[:10])
	f.Fuzz(func(t *testing.T, b []byte) {
		var k ServerKey
		if k.UnmarshalBinary(b) != nil {
			return
		}
		b2, err := k.MarshalBinary()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatal("key does not round-trip")
		}
	})
}

func FuzzMatchRecord(f *testing.F) {
	fx := newFixture(f, "fuzz-rec", small, 3)
	c := fx.client(f, 0)
	v, _ := c.Voucher(drbg("fuzz-rec"), &Triple{Hash: fx.members[0], ID: idN("fr", 0)})
	rec, err := fx.server.Match(v)
	if err != nil || rec == nil {
		f.Fatal(err)
	}
	b, _ := rec.MarshalBinary()
	f.Add(b)
	f.Add(b[:30])
	f.Fuzz(func(t *testing.T, b []byte) {
		var r MatchRecord
		if r.UnmarshalBinary(b) != nil {
			return
		}
		b2, err := r.MarshalBinary()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatal("record does not round-trip")
		}
	})
}

func FuzzVoucherStream(f *testing.F) {
	var buf bytes.Buffer
	w, _ := NewVoucherWriter(&buf, "x")
	w.Write([]byte("voucher"))
	w.Flush()
	f.Add(buf.Bytes())
	f.Add([]byte("VSVS\x01\x00\x00\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewVoucherReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		for i := 0; i < 1000; i++ {
			if _, err := r.Next(); err != nil {
				if err != io.EOF {
					if _, err2 := r.Next(); err2 == nil {
						t.Fatal("reader resumed after a corrupt frame")
					}
				}
				return
			}
		}
	})
}
