package psi

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the known-answer files in testdata")

// katParams are small so the files stay small; the wire format is the same
// at any parameters.
var katParams = Params{T: 3, S: 6, ADLen: 64}

type katReveal struct {
	Candidates int          `json:"candidates"`
	Above      bool         `json:"above_threshold"`
	Revealed   []katMatch   `json:"revealed"`
	Synthetic  []string     `json:"synthetic_ids"`
	Below      *katRevealLo `json:"below_threshold"`
}

type katRevealLo struct {
	Candidates int      `json:"candidates"`
	IDs        []string `json:"candidate_ids"`
}

type katMatch struct {
	ID         string `json:"id"`
	DBID       string `json:"db_id"`
	Hash       string `json:"hash"`
	Derivative string `json:"derivative"`
}

// katBuild regenerates every known-answer file from fixed seeds.
func katBuild(t *testing.T) map[string][]byte {
	files := map[string][]byte{}
	var members []Hash
	for i := 0; i < 8; i++ {
		members = append(members, hashN("kat/member", i))
	}
	res, err := BuildTable(drbg("kat/table"), members, TableOptions{Params: katParams, Epoch: 7})
	if err != nil {
		t.Fatal(err)
	}
	files["good_table.vsdb"] = res.Table.Bytes()
	root := res.Table.Root()
	files["good_table_root.txt"] = []byte(hex.EncodeToString(root[:]) + "\n")
	files["good_server_key.bin"], _ = res.Key.MarshalBinary()
	acct, _ := NewAccount(drbg("kat/account"), "kat")
	// The two synthetic ids below, as the account records them.
	acct.addSynthetic(&[]ID{idN("kat", 11)}[0])
	acct.addSynthetic(&[]ID{idN("kat", 12)}[0])
	files["good_account.bin"], _ = acct.MarshalBinary()
	c, err := NewClient(res.Table, acct, &ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rnd := drbg("kat/vouchers")
	var buf bytes.Buffer
	w, _ := NewVoucherWriter(&buf, "kat")
	add := func(y Hash, i int, synth int) []byte {
		var seed [32]byte
		io.ReadFull(rnd, seed[:])
		v, err := c.build(seed, &Triple{Hash: y, ID: idN("kat", i), Derivative: []byte(fmt.Sprintf("vd-%d", i))}, synth)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(v)
		return v
	}
	first := add(members[0], 0, 0)
	files["good_voucher.bin"] = first
	for i := 1; i <= katParams.T; i++ { // t+1 real matches in all
		add(members[i], i, 0)
	}
	add(hashN("kat/non", 0), 10, 0) // a non-match
	add(hashN("kat/syn", 0), 11, 1) // two synthetic
	add(members[5], 12, 1)
	w.Flush()
	files["good_vouchers.vsvs"] = buf.Bytes()

	// Failing variants.
	tb := res.Table.Bytes()
	hs := res.Table.HeaderSize()
	files["fail_table_magic.vsdb"] = append([]byte("VSDX"), tb[4:]...)
	files["fail_table_truncated.vsdb"] = tb[:len(tb)-1]
	dup := bytes.Clone(tb)
	copy(dup[hs+33:hs+66], dup[hs:hs+33])
	files["fail_table_duplicate_point.vsdb"] = dup
	vf := bytes.Clone(first)
	vf[7] = 1
	files["fail_voucher_flags.bin"] = vf
	vo := bytes.Clone(first)
	copy(vo[32:65], offCurvePoint())
	files["fail_voucher_off_curve.bin"] = vo
	files["fail_voucher_truncated.bin"] = first[:len(first)-1]
	files["fail_account_magic.bin"] = append([]byte("VSAX"), files["good_account.bin"][4:]...)
	// Format version 1 kept a synthetic count (here 2), not the ids.
	v1 := []byte("VSAC\x01\x00\x00\x00")
	v1 = append(v1, acct.seed[:]...)
	v1 = append(v1, 0, 0, 0, 0, 0, 0, 0, 2, 3)
	files["fail_account_v1.bin"] = append(v1, "kat"...)
	ab := bytes.Clone(files["good_account.bin"])
	ab[20] ^= 0x04 // a bit of the seed
	files["fail_account_checksum.bin"] = ab
	kb := bytes.Clone(files["good_server_key.bin"])
	kb[40] ^= 0x01 // a bit of α
	files["fail_server_key_checksum.bin"] = kb
	kv1 := bytes.Clone(files["good_server_key.bin"][:serverKeyBody])
	kv1[4] = 0x01
	files["fail_server_key_v1.bin"] = kv1
	sb := bytes.Clone(files["good_vouchers.vsvs"])
	sb[9] = 0x0a // the label "kat" becomes "k\na"
	files["fail_stream_label.vsvs"] = sb
	return files
}

func offCurvePoint() []byte {
	for x := byte(1); ; x++ {
		enc := append([]byte{2}, make([]byte, 32)...)
		enc[32] = x
		if _, err := decodePoint(enc); err != nil {
			return enc
		}
	}
}

// katReveal runs the server side from the stored files only.
func katRun(t *testing.T, files map[string][]byte) katReveal {
	var k ServerKey
	if err := k.UnmarshalBinary(files["good_server_key.bin"]); err != nil {
		t.Fatal(err)
	}
	srv, _ := NewServer(&k)
	r, err := NewVoucherReader(bytes.NewReader(files["good_vouchers.vsvs"]))
	if err != nil {
		t.Fatal(err)
	}
	var recs []*MatchRecord
	for {
		v, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rec, err := srv.Match(v)
		if err != nil {
			t.Fatal(err)
		}
		if rec != nil {
			recs = append(recs, rec)
		}
	}
	var out katReveal
	// Below: drop one real match (the first id in order).
	lo, _ := Reveal(katParams, recs[1:])
	out.Below = &katRevealLo{Candidates: lo.Candidates, IDs: idStrs(lo.CandidateIDs)}
	if lo.AboveThreshold {
		t.Fatal("below-threshold KAT revealed")
	}
	res, _ := Reveal(katParams, recs)
	out.Candidates, out.Above, out.Synthetic = res.Candidates, res.AboveThreshold, idStrs(res.SyntheticIDs)
	for _, m := range res.Revealed {
		h, _ := m.Hash()
		d, _ := m.Derivative()
		out.Revealed = append(out.Revealed, katMatch{ID: m.ID.String(), DBID: m.DBID.String(), Hash: h.String(), Derivative: string(d)})
	}
	return out
}

func idStrs(ids []ID) []string {
	out := []string{}
	for _, id := range ids {
		out = append(out, id.String())
	}
	return out
}

// TestKnownAnswers pins the table, voucher and reveal formats: any change to
// the wire format or the derivations shows up here. Run with -update to
// rewrite the files after an intended change.
func TestKnownAnswers(t *testing.T) {
	files := katBuild(t)
	rev := katRun(t, files)
	revJSON, _ := json.MarshalIndent(rev, "", "  ")
	files["good_reveal.json"] = append(revJSON, '\n')
	if *update {
		for name, b := range files {
			if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatalf("%v (run go test -run KnownAnswers -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the regenerated value: the format or a derivation changed", name)
		}
	}
	if !rev.Above || len(rev.Revealed) != katParams.T+1 || len(rev.Synthetic) != 2 || rev.Below.Candidates != katParams.T+2 {
		t.Fatalf("KAT reveal: %+v", rev)
	}
	// The stored failing vectors are rejected.
	stored := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, n := range []string{"fail_table_magic.vsdb", "fail_table_truncated.vsdb", "fail_table_duplicate_point.vsdb"} {
		if _, err := ParseTable(stored(n)); err == nil {
			t.Errorf("%s accepted", n)
		}
	}
	var k ServerKey
	k.UnmarshalBinary(stored("good_server_key.bin"))
	srv, _ := NewServer(&k)
	for _, n := range []string{"fail_voucher_flags.bin", "fail_voucher_off_curve.bin", "fail_voucher_truncated.bin"} {
		if _, err := srv.Match(stored(n)); err == nil {
			t.Errorf("%s accepted", n)
		}
	}
	if rec, err := srv.Match(stored("good_voucher.bin")); err != nil || rec == nil {
		t.Errorf("good_voucher.bin: %v", err)
	}
	for n, want := range map[string]error{
		"fail_account_magic.bin":    ErrMagic,
		"fail_account_v1.bin":       ErrOldAccount,
		"fail_account_checksum.bin": ErrChecksum,
	} {
		if err := new(Account).UnmarshalBinary(stored(n)); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", n, err, want)
		}
	}
	var a Account
	if err := a.UnmarshalBinary(stored("good_account.bin")); err != nil || a.SyntheticCount() != 2 {
		t.Errorf("good_account.bin: %v, %d synthetic ids", err, a.SyntheticCount())
	}
	for n, want := range map[string]error{
		"fail_server_key_checksum.bin": ErrChecksum,
		"fail_server_key_v1.bin":       ErrOldServerKey,
	} {
		if err := new(ServerKey).UnmarshalBinary(stored(n)); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", n, err, want)
		}
	}
	if up, err := UpgradeServerKey(stored("fail_server_key_v1.bin")); err != nil || !bytes.Equal(up, stored("good_server_key.bin")) {
		t.Errorf("UpgradeServerKey(fail_server_key_v1.bin): %v", err)
	}
	if _, err := NewVoucherReader(bytes.NewReader(stored("fail_stream_label.vsvs"))); !errors.Is(err, ErrLabel) {
		t.Errorf("fail_stream_label.vsvs: %v", err)
	}
}
