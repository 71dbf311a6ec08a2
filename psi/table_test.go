package psi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

// RFC 6962 §2.1 test data and the tree heads every CT implementation computes.
func TestMerkleRFC6962(t *testing.T) {
	leaves := []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	roots := []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	var hs [][32]byte
	for i, l := range leaves {
		b, _ := hex.DecodeString(l)
		hs = append(hs, leafHash(b))
		got := reduceLevels(append([][32]byte(nil), hs...))
		if hex.EncodeToString(got[:]) != roots[i] {
			t.Errorf("size %d: %x, want %s", i+1, got, roots[i])
		}
	}
	// Fixed-size leaves through merkleRoot agree with the recursive definition.
	body := bytes.Repeat([]byte{1, 2, 3}, 11)
	for n := 0; n <= 11; n++ {
		got := merkleRoot([]byte("hdr"), body[:3*n], 3)
		ls := [][]byte{[]byte("hdr")}
		for i := 0; i < n; i++ {
			ls = append(ls, body[3*i:3*i+3])
		}
		if want := mthRecursive(ls); got != want {
			t.Errorf("%d leaves: %x, want %x", n+1, got, want)
		}
	}
}

// mthRecursive is RFC 6962's definition, split at the largest power of two.
func mthRecursive(d [][]byte) [32]byte {
	if len(d) == 1 {
		return leafHash(d[0])
	}
	k := 1
	for k*2 < len(d) {
		k *= 2
	}
	l, r := mthRecursive(d[:k]), mthRecursive(d[k:])
	return nodeHash(&l, &r)
}

func TestTableBuild(t *testing.T) {
	f := newFixture(t, "table", small, 100)
	tb := f.table
	if tb.Len() != 100 || tb.Slots() != 223 || tb.D() != 2 || tb.Params() != small {
		t.Fatalf("table: n=%d slots=%d d=%d params=%+v", tb.Len(), tb.Slots(), tb.D(), tb.Params())
	}
	if len(tb.Bytes()) != 121+33*223 {
		t.Fatalf("length %d", len(tb.Bytes()))
	}
	if err := tb.Validate(0); err != nil {
		t.Fatal(err)
	}
	if err := tb.Verify(tb.Root()); err != nil {
		t.Fatal(err)
	}
	if err := tb.Verify([32]byte{1}); err == nil {
		t.Fatal("wrong root accepted")
	}
	if err := f.key.CheckTable(tb); err != nil {
		t.Fatal(err)
	}
	// Deterministic for a given random stream.
	again, err := BuildTable(drbg("table/table"), f.members, TableOptions{Params: small, Epoch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Table.Bytes(), tb.Bytes()) {
		t.Fatal("same randomness, different table")
	}
	// Every member sits in one of its slots as α·H(x); checked with the key.
	pos := make([]uint64, 2)
	for _, x := range f.members {
		slotsOf(&x, tb.nonces, tb.slots, pos)
		if pos[0] == pos[1] {
			t.Fatal("equal slots")
		}
		want, err := f.key.blind(tb.nonceH, &x)
		if err != nil {
			t.Fatal(err)
		}
		enc := want.BytesCompressed()
		if !bytes.Equal(tb.slotBytes(pos[0]), enc) && !bytes.Equal(tb.slotBytes(pos[1]), enc) {
			t.Fatalf("member %x not in its slots", x)
		}
	}
	// The table holds no hash in readable form.
	for _, x := range f.members {
		if bytes.Contains(tb.Bytes(), x[:]) || bytes.Contains(tb.Bytes(), []byte(x.String())) {
			t.Fatalf("table contains hash %s", x)
		}
	}
	kb, _ := f.key.MarshalBinary()
	if bytes.Contains(tb.Bytes(), kb[32:64]) {
		t.Fatal("table contains α")
	}
}

// protocol.md §8 invariant 8: h_1(y) ≠ h_2(y) for 10^6 random y.
func TestSlotsDistinct(t *testing.T) {
	n := 1000000
	if testing.Short() {
		n = 100000
	}
	nonces := [][]byte{make([]byte, 16), make([]byte, 16), make([]byte, 16)}
	nonces[1][0] = 1
	nonces[2][0] = 2
	pos := make([]uint64, 3)
	for i := 0; i < n; i++ {
		y := hashN("slots", i)
		slots := uint64(2 + i%7) // tiny tables force the +1 rule often
		slotsOf(&y, nonces[:2], slots, pos[:2])
		if pos[0] == pos[1] || pos[0] >= slots || pos[1] >= slots {
			t.Fatalf("y %d: slots %v of %d", i, pos[:2], slots)
		}
		if i%10 == 0 && slots >= 3 {
			slotsOf(&y, nonces, slots, pos)
			if pos[0] == pos[1] || pos[1] == pos[2] || pos[0] == pos[2] {
				t.Fatalf("d=3 y %d: slots %v", i, pos)
			}
		}
	}
}

func TestRootChangesWithEveryByte(t *testing.T) {
	f := newFixture(t, "flip", small, 10)
	raw := f.table.Bytes()
	root := f.table.Root()
	for i := range raw {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		hs := f.table.HeaderSize()
		var r [32]byte
		r = merkleRoot(b[:hs], b[hs:], pointSize)
		if r == root {
			t.Fatalf("flipping byte %d keeps the root", i)
		}
	}
}

func TestParseTableRejects(t *testing.T) {
	f := newFixture(t, "reject", small, 20)
	raw := f.table.Bytes()
	hs := f.table.HeaderSize()
	mod := func(fn func(b []byte) []byte) []byte { return fn(bytes.Clone(raw)) }
	// An x-coordinate that is not on the curve: x = 0 … 05 gives a non-square y².
	offCurve := func(b []byte, off int) []byte {
		for x := byte(1); ; x++ {
			enc := append([]byte{2}, make([]byte, 32)...)
			enc[32] = x
			if _, err := decodePoint(enc); err != nil {
				copy(b[off:], enc)
				return b
			}
		}
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrLength},
		{"magic", mod(func(b []byte) []byte { b[0] = 'X'; return b }), ErrMagic},
		{"version", mod(func(b []byte) []byte { b[4] = 2; return b }), ErrVersion},
		{"suite", mod(func(b []byte) []byte { b[5] = 9; return b }), ErrSuite},
		{"d", mod(func(b []byte) []byte { b[6] = 4; return b }), nil},
		{"reserved", mod(func(b []byte) []byte { b[7] = 1; return b }), nil},
		{"truncated", raw[:len(raw)-1], ErrLength},
		{"extended", append(bytes.Clone(raw), 0), ErrLength},
		{"header only", raw[:hs], ErrLength},
		{"slots", mod(func(b []byte) []byte { b[31]++; return b }), ErrLength},
		{"huge slots", mod(func(b []byte) []byte { b[24] = 0xff; return b }), nil},
		{"n > slots", mod(func(b []byte) []byte { b[16] = 0xff; return b }), nil},
		{"t=0", mod(func(b []byte) []byte { b[32], b[33] = 0, 0; return b }), nil},
		{"s too big", mod(func(b []byte) []byte { b[34] = 0xff; return b }), nil},
		{"ad_len", mod(func(b []byte) []byte { b[36] = 0xff; return b }), nil},
		{"L off curve", mod(func(b []byte) []byte { return offCurve(b, hs-33) }), ErrPoint},
		{"L uncompressed tag", mod(func(b []byte) []byte { b[hs-33] = 4; return b }), ErrPoint},
		{"L identity", mod(func(b []byte) []byte { b[hs-33] = 0; return b }), ErrPoint},
		{"duplicate slot", mod(func(b []byte) []byte { copy(b[hs+33:hs+66], b[hs:hs+33]); return b }), nil},
		{"slot equals L", mod(func(b []byte) []byte { copy(b[hs+5*33:], b[hs-33:hs]); return b }), nil},
	}
	for _, c := range cases {
		_, err := ParseTable(c.b)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A slot off the curve parses (lazy mode) but fails Validate.
	b := offCurve(bytes.Clone(raw), hs+3*33)
	tb, err := ParseTable(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Validate(2); !errors.Is(err, ErrPoint) {
		t.Fatalf("Validate: %v", err)
	}
}

func TestBuildOptions(t *testing.T) {
	xs := []Hash{hashN("o", 1), hashN("o", 2), hashN("o", 2)} // a duplicate
	r, err := BuildTable(drbg("opts"), xs, TableOptions{Params: small, D: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.Table.D() != 3 || r.Table.Len() != 2 || r.Table.Slots() != 3 || r.Table.HeaderSize() != 137 {
		t.Fatalf("d=3 table: d=%d n=%d slots=%d", r.Table.D(), r.Table.Len(), r.Table.Slots())
	}
	// An empty set still makes a valid table of random points.
	r, err = BuildTable(drbg("empty"), nil, TableOptions{Params: small})
	if err != nil || r.Table.Len() != 0 || r.Table.Slots() != 2 {
		t.Fatalf("empty table: %v", err)
	}
	for _, o := range []TableOptions{{D: 4}, {Load: 1.5}, {Load: -1}, {Params: Params{T: 0, S: 1, ADLen: 64}}} {
		if _, err := BuildTable(drbg("bad"), xs, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

// At load 1 with d = 2 the cuckoo walk must drop elements; they are reported
// and never match (protocol.md §8 invariant 1, "and for dropped elements").
func TestDroppedNeverMatch(t *testing.T) {
	var xs []Hash
	for i := 0; i < 60; i++ {
		xs = append(xs, hashN("drop", i))
	}
	r, err := BuildTable(drbg("drop"), xs, TableOptions{Params: small, Load: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Dropped) == 0 {
		t.Skip("no element dropped for this seed")
	}
	if r.Table.Len() != uint64(60-len(r.Dropped)) {
		t.Fatalf("n=%d with %d dropped", r.Table.Len(), len(r.Dropped))
	}
	srv, _ := NewServer(r.Key)
	acct, _ := NewAccount(drbg("drop/acct"), "drop")
	c, err := NewClient(r.Table, acct, &ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, y := range r.Dropped {
		v, err := c.Voucher(drbg("drop/v"), &Triple{Hash: y, ID: idN("drop", i)})
		if err != nil {
			t.Fatal(err)
		}
		if rec, err := srv.Match(v); rec != nil || err != nil {
			t.Fatalf("dropped element matched: %v %v", rec, err)
		}
	}
}

func TestFileDigest(t *testing.T) {
	f := newFixture(t, "digest", small, 5)
	if f.table.FileDigest() != sha256.Sum256(f.table.Bytes()) {
		t.Fatal("file digest")
	}
	if root := f.table.Root(); f.table.DBID() != DBID(root[:8]) {
		t.Fatal("db_id")
	}
}
