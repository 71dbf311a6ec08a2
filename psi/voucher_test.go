package psi

import (
	"bytes"
	"errors"
	"testing"
)

// protocol.md §8 invariant 1: every inserted member matches with exactly one
// pair opening; 10^4 random non-members never match.
func TestMatchIffMember(t *testing.T) {
	f := newFixture(t, "iff", small, 200)
	c := f.client(t, 0)
	var trs []Triple
	for i, x := range f.members {
		trs = append(trs, Triple{Hash: x, ID: idN("iff-m", i)})
	}
	nonMembers := 10000
	if testing.Short() {
		nonMembers = 1000
	}
	for i := 0; i < nonMembers; i++ {
		trs = append(trs, Triple{Hash: hashN("iff-non", i), ID: idN("iff-n", i)})
	}
	vs, err := c.Vouchers(drbg("iff/v"), trs)
	if err != nil {
		t.Fatal(err)
	}
	res := f.server.MatchBatch(vs, 0)
	for i, r := range res {
		member := i < len(f.members)
		if r.Err != nil {
			t.Fatalf("voucher %d: %v", i, r.Err)
		}
		if (r.Record != nil) != member {
			t.Fatalf("voucher %d (member %v): matched %v", i, member, r.Record != nil)
		}
		if r.Header.ID != trs[i].ID || r.Header.DBID != f.table.DBID() {
			t.Fatalf("voucher %d: header %+v", i, r.Header)
		}
	}
	// Exactly one pair opens for members (match would report ErrDoubleMatch otherwise).
	for i := range f.members[:20] {
		_, mask, err := f.server.match(vs[i])
		if err != nil || (mask != 1 && mask != 2) {
			t.Fatalf("member %d: mask %b err %v", i, mask, err)
		}
	}
}

// Near matches are not matches: every one-bit neighbour of a member fails.
func TestOneBitOffDoesNotMatch(t *testing.T) {
	f := newFixture(t, "bits", small, 30)
	c := f.client(t, 0)
	var trs []Triple
	for m := 0; m < 3; m++ {
		for bit := 0; bit < 96; bit++ {
			y := f.members[m]
			y[bit/8] ^= 1 << (bit % 8)
			trs = append(trs, Triple{Hash: y, ID: idN("bits", m*96+bit)})
		}
	}
	vs, err := c.Vouchers(drbg("bits/v"), trs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range f.server.MatchBatch(vs, 0) {
		if r.Err != nil || r.Record != nil {
			t.Fatalf("neighbour %d matched (%v)", i, r.Err)
		}
	}
}

// protocol.md §8 invariants 2 and 6: synthetics always match through exactly
// one pair; all classes have the same length and format; the compressed-point
// tags and the opening pair are about 50/50 in each class.
func TestVoucherClasses(t *testing.T) {
	f := newFixture(t, "classes", small, 300)
	real := f.client(t, 0)
	// A rate-1 client with a large cap: every triple becomes synthetic.
	synth := f.client(t, 1)
	synth.keys.cap = 1 << 40
	const n = 300
	var mem, non []Triple
	for i := 0; i < n; i++ {
		mem = append(mem, Triple{Hash: f.members[i], ID: idN("cl-m", i), Derivative: []byte("d")})
		non = append(non, Triple{Hash: hashN("cl-non", i), ID: idN("cl-n", i)})
	}
	classes := map[string][][]byte{}
	var err error
	if classes["match"], err = real.Vouchers(drbg("cl/1"), mem); err != nil {
		t.Fatal(err)
	}
	if classes["non-match"], err = real.Vouchers(drbg("cl/2"), non); err != nil {
		t.Fatal(err)
	}
	if classes["synthetic/member"], err = synth.Vouchers(drbg("cl/3"), mem); err != nil {
		t.Fatal(err)
	}
	if classes["synthetic/non-member"], err = synth.Vouchers(drbg("cl/4"), non); err != nil {
		t.Fatal(err)
	}
	if f.account.SyntheticCount() != 2*n {
		t.Fatalf("synthetic set of %d, want %d", f.account.SyntheticCount(), 2*n)
	}
	size := small.VoucherSize(2)
	for name, vs := range classes {
		tags, opensA := 0, 0
		for i, v := range vs {
			if len(v) != size {
				t.Fatalf("%s %d: %d bytes, want %d", name, i, len(v), size)
			}
			for j := 0; j < 2; j++ {
				q := v[prefixSize+j*pairSize:][:pointSize]
				if _, err := decodePoint(q); err != nil {
					t.Fatalf("%s %d: pair %d: %v", name, i, j, err)
				}
				tags += int(q[0] & 1)
			}
			rec, mask, err := f.server.match(v)
			if err != nil {
				t.Fatalf("%s %d: %v", name, i, err)
			}
			if (rec != nil) != (name != "non-match") {
				t.Fatalf("%s %d: matched=%v", name, i, rec != nil)
			}
			if mask == 1 {
				opensA++
			}
		}
		// 600 tags: mean 300, sd 12.2; 300 orders: mean 150, sd 8.7. ±5 sd.
		if tags < 240 || tags > 360 {
			t.Errorf("%s: %d of %d odd point tags", name, tags, 2*n)
		}
		if name != "non-match" && (opensA < 106 || opensA > 194) {
			t.Errorf("%s: first pair opened %d of %d times", name, opensA, n)
		}
	}
	// Synthetic match records look like real ones: valid shares, r < ℓ.
	rec, err := f.server.Match(classes["synthetic/non-member"][0])
	if err != nil || rec == nil || len(rec.R) != small.S+1 {
		t.Fatalf("synthetic record %+v %v", rec, err)
	}
}

// No voucher contains the client's hash, the account seed, adkey or the
// server's α in readable form (raw bytes or hex).
func TestVoucherHidesSecrets(t *testing.T) {
	f := newFixture(t, "secrets", small, 20)
	c := f.client(t, 0)
	kb, _ := f.key.MarshalBinary()
	secrets := [][]byte{f.account.seed[:], c.keys.adkey, kb[32:64], kb[64:96]}
	for i := 0; i < 40; i++ {
		y := f.members[i%20]
		if i >= 20 {
			y = hashN("secrets-non", i)
		}
		v, err := c.Voucher(drbg("sec"), &Triple{Hash: y, ID: idN("sec", i)})
		if err != nil {
			t.Fatal(err)
		}
		all := append(secrets, y[:])
		for _, s := range all {
			if bytes.Contains(v, s) || bytes.Contains(v, []byte(Hash(y).String())) {
				t.Fatalf("voucher %d contains a secret or the hash", i)
			}
		}
	}
}

// protocol.md §8 invariant 11 for vouchers, plus epochs (invariant 7).
func TestMatchRejects(t *testing.T) {
	f := newFixture(t, "vrej", small, 20)
	c := f.client(t, 0)
	v, err := c.Voucher(drbg("vrej"), &Triple{Hash: f.members[0], ID: idN("vrej", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := f.server.Match(v); rec == nil || err != nil {
		t.Fatalf("good voucher: %v", err)
	}
	mod := func(fn func(b []byte) []byte) []byte { return fn(bytes.Clone(v)) }
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
		v    []byte
		want error
	}{
		{"empty", nil, ErrLength},
		{"short", v[:31], ErrLength},
		{"truncated", v[:len(v)-1], ErrLength},
		{"extended", append(bytes.Clone(v), 0), ErrLength},
		{"oversized", append(bytes.Clone(v), make([]byte, 1<<16)...), ErrLength},
		{"magic", mod(func(b []byte) []byte { b[1] = 'X'; return b }), ErrMagic},
		{"version", mod(func(b []byte) []byte { b[4] = 2; return b }), ErrVersion},
		{"suite", mod(func(b []byte) []byte { b[5] = 2; return b }), ErrSuite},
		{"flags", mod(func(b []byte) []byte { b[7] = 1; return b }), ErrFlags},
		{"db_id", mod(func(b []byte) []byte { b[9] ^= 1; return b }), ErrUnknownEpoch},
		{"Q_A off curve", mod(func(b []byte) []byte { return offCurve(b, 32) }), ErrPoint},
		{"Q_B off curve", mod(func(b []byte) []byte { return offCurve(b, 32+81) }), ErrPoint},
		{"Q_A identity tag", mod(func(b []byte) []byte { b[32] = 0; return b }), ErrPoint},
		{"Q_B uncompressed tag", mod(func(b []byte) []byte { b[113] = 4; return b }), ErrPoint},
		{"rct", mod(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrInnerLayer},
	}
	for _, c := range cases {
		rec, err := f.server.Match(c.v)
		if rec != nil || !errors.Is(err, c.want) {
			t.Errorf("%s: rec %v err %v, want %v", c.name, rec != nil, err, c.want)
		}
	}
	// Every single-bit flip: an error or a non-match, never a panic. Only a
	// flip inside the pair that does not open leaves the match (and its
	// record) unchanged: that pair is random by design.
	want, mask, _ := f.server.match(v)
	closed := 0
	if mask == 1 {
		closed = 1
	}
	lo, hi := prefixSize+closed*pairSize, prefixSize+(closed+1)*pairSize
	for i := 0; i < len(v)*8; i++ {
		b := bytes.Clone(v)
		b[i/8] ^= 1 << (i % 8)
		rec, _ := f.server.Match(b)
		if rec == nil {
			continue
		}
		if i/8 < lo || i/8 >= hi {
			t.Fatalf("flipping bit %d still matches", i)
		}
		wb, _ := want.MarshalBinary()
		rb, _ := rec.MarshalBinary()
		if !bytes.Equal(wb, rb) {
			t.Fatalf("flipping bit %d changed the record", i)
		}
	}
	// A second epoch's key does not know the first epoch's vouchers.
	g := newFixture(t, "vrej2", small, 20)
	if _, err := g.server.Match(v); !errors.Is(err, ErrUnknownEpoch) {
		t.Fatalf("other epoch: %v", err)
	}
	if _, err := NewServer(f.key, f.key); err == nil {
		t.Fatal("duplicate epoch accepted")
	}
}

// A forged voucher whose two pairs both open is flagged (protocol.md §4.1).
func TestDoubleMatchFlagged(t *testing.T) {
	f := newFixture(t, "double", small, 20)
	c := f.client(t, 0)
	v, err := c.Voucher(drbg("double"), &Triple{Hash: f.members[0], ID: idN("double", 0)})
	if err != nil {
		t.Fatal(err)
	}
	_, mask, _ := f.server.match(v)
	open, other := 0, 1
	if mask == 2 {
		open, other = 1, 0
	}
	b := bytes.Clone(v)
	copy(b[prefixSize+other*pairSize:], v[prefixSize+open*pairSize:][:pairSize])
	if _, err := f.server.Match(b); !errors.Is(err, ErrDoubleMatch) {
		t.Fatalf("double: %v", err)
	}
}

func TestClientRejectsLargeDerivative(t *testing.T) {
	f := newFixture(t, "bigd", small, 5)
	c := f.client(t, 0)
	tr := Triple{Hash: f.members[0], Derivative: make([]byte, small.MaxDerivative()+1)}
	if _, err := c.Voucher(drbg("x"), &tr); err == nil {
		t.Fatal("oversized derivative accepted")
	}
	tr.Derivative = tr.Derivative[:small.MaxDerivative()]
	if _, err := c.Voucher(drbg("x"), &tr); err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient(f.table, f.account, &ClientOptions{SyntheticRate: 2}); err == nil {
		t.Fatal("rate 2 accepted")
	}
}

// Vouchers gives the same bytes as Voucher one by one for the same stream
// (order-preserving parallelism), and makes the same triples synthetic (same-size synthetic sets).
func TestVouchersDeterministic(t *testing.T) {
	f := newFixture(t, "det", small, 20)
	var trs []Triple
	for i := 0; i < 16; i++ {
		trs = append(trs, Triple{Hash: f.members[i], ID: idN("det", i)})
	}
	a1, _ := NewAccount(drbg("det/acct"), "a")
	a2, _ := NewAccount(drbg("det/acct"), "a")
	c1, _ := NewClient(f.table, a1, &ClientOptions{SyntheticRate: 0.5, Workers: 4})
	c2, _ := NewClient(f.table, a2, &ClientOptions{SyntheticRate: 0.5})
	batch, err := c1.Vouchers(drbg("det/v"), trs)
	if err != nil {
		t.Fatal(err)
	}
	r := drbg("det/v")
	for i := range trs {
		v, err := c2.Voucher(r, &trs[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(v, batch[i]) {
			t.Fatalf("voucher %d differs between Vouchers and Voucher", i)
		}
	}
	if a1.SyntheticCount() != a2.SyntheticCount() || a1.SyntheticCount() == 0 {
		t.Fatalf("synthetic sets of %d, %d", a1.SyntheticCount(), a2.SyntheticCount())
	}
}

// The synthetic count never exceeds the account's secret cap, which lies in
// [c_lo, c_hi] = [t, s − ⌈s/10⌉].
func TestSyntheticCap(t *testing.T) {
	p := Params{T: 5, S: 20, ADLen: 32}
	f := newFixture(t, "cap", p, 10)
	c := f.client(t, 1)
	lo, hi := capRange(p)
	if lo != 5 || hi != 18 || c.keys.cap < uint64(lo) || c.keys.cap > uint64(hi) {
		t.Fatalf("cap %d outside [%d, %d]", c.keys.cap, lo, hi)
	}
	var trs []Triple
	for i := 0; i < 40; i++ {
		trs = append(trs, Triple{Hash: hashN("cap", i), ID: idN("cap", i)})
	}
	vs, err := c.Vouchers(drbg("cap/v"), trs)
	if err != nil {
		t.Fatal(err)
	}
	matches := 0
	for _, r := range f.server.MatchBatch(vs, 0) {
		if r.Record != nil {
			matches++
		}
	}
	if uint64(matches) != c.keys.cap || uint64(f.account.SyntheticCount()) != c.keys.cap {
		t.Fatalf("%d synthetic matches, set of %d, cap %d", matches, f.account.SyntheticCount(), c.keys.cap)
	}
	if r := DefaultSyntheticRate(DefaultParams); r != 0.0042 {
		t.Fatalf("default rate %v", r)
	}
}
