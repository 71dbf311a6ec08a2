package service

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vouchsafe/vouchsafe/psi"
)

func TestParseTokens(t *testing.T) {
	toks, err := ParseTokens(strings.NewReader(testTokens))
	if err != nil {
		t.Fatal(err)
	}
	if toks.Len() != 4 {
		t.Fatal(toks.Len())
	}
	a := toks.Lookup(tokAlice)
	if a == nil || a.Name != "alice-phone" || !a.MayIngest("alice") || a.MayIngest("bob") {
		t.Fatalf("alice: %+v", a)
	}
	if g := toks.Lookup(tokGate); g == nil || !g.MayIngest("anyone") {
		t.Fatalf("gateway: %+v", g)
	}
	if o := toks.Lookup(tokOps); o == nil || o.Role != RoleOperator || o.MayIngest("alice") {
		t.Fatalf("ops: %+v", o)
	}
	for _, tok := range []string{"", tokAlice + "x", tokAlice[1:], strings.ToUpper(tokAlice)} {
		if toks.Lookup(tok) != nil {
			t.Errorf("Lookup(%q) found a client", tok)
		}
	}
	for _, bad := range []string{
		"",
		"# only a comment\n",
		"a ingest 0123456789abcdef\n",          // no account
		"a ingest short alice\n",               // short token
		"a admin 0123456789abcdef\n",           // unknown role
		"a operator 0123456789abcdef alice\n",  // operator with accounts
		"a ingest 0123456789abcdef ..\n",       // bad account
		"../x ingest 0123456789abcdef alice\n", // bad name
		"a ingest 0123456789abcdef alice\na ingest 0123456789abcdeg alice\n", // duplicate name
		"a ingest 0123456789abcdef alice\nb ingest 0123456789abcdef alice\n", // duplicate token
		"a ingest 0123456789abcd\x7fef alice\n",                              // unprintable token
		"a ingest\n",                                                         // short line
		"a ingest " + strings.Repeat("x", 70<<10) + " alice\n",               // line too long
	} {
		if _, err := ParseTokens(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseTokens(%.60q) succeeded", bad)
		} else if strings.Contains(err.Error(), "0123456789abcde") {
			t.Errorf("error %q shows a token", err)
		}
	}
}

func TestSecretFilePermissions(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tokens")
	if err := os.WriteFile(p, []byte(testTokens), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTokens(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable tokens file: %v", err)
	}
	f := newFixture(t, "perm", 2, 2)
	if err := os.Chmod(f.epochs[1].keyFile, 0o604); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeys(f.keyFiles()); err == nil || !strings.Contains(err.Error(), "group or others") {
		t.Fatalf("world-readable key: %v", err)
	}
	if _, err := LoadKeys([]string{dir}); err == nil {
		t.Fatal("a directory loaded as a key")
	}
	if _, err := LoadKeys(nil); err == nil {
		t.Fatal("no keys accepted")
	}
	// Two epochs with different t cannot be revealed together.
	res, err := psi.BuildTable(drbg("other"), []psi.Hash{hashN("o", 1)}, psi.TableOptions{Params: psi.Params{T: 4, S: 6, ADLen: 512}})
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := res.Key.MarshalBinary()
	other := filepath.Join(dir, "other.key")
	os.WriteFile(other, kb, 0o600)
	if _, err := LoadKeys([]string{f.epochs[0].keyFile, other}); err == nil {
		t.Fatal("epochs with different t accepted")
	}
}

func TestValidAccount(t *testing.T) {
	for _, ok := range []string{"a", "alice", "A.b_c-9", strings.Repeat("x", 128), "..."} {
		if !ValidAccount(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "a b", "a\x00", "é", strings.Repeat("x", 129), "a%2e"} {
		if ValidAccount(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseTokens(f *testing.F) {
	f.Add([]byte(testTokens))
	f.Add([]byte("a ingest 0123456789abcdef *\n"))
	f.Add([]byte("a operator 0123456789abcdef\n# c\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		toks, err := ParseTokens(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, c := range toks.clients {
			if !ValidAccount(c.Name) || (c.Role != RoleIngest && c.Role != RoleOperator) {
				t.Fatalf("accepted client %+v", c)
			}
			if c.Role == RoleIngest && !c.AnyAccount && len(c.Accounts) == 0 {
				t.Fatalf("ingest client without accounts: %+v", c)
			}
		}
	})
}

func FuzzReadUpload(f *testing.F) {
	v := make([]byte, 64)
	copy(v, "VSVC\x01\x01")
	f.Add(ContentTypeStream, streamOf(f, "", [][]byte{v, v[:10]}), 3)
	f.Add(ContentTypeStream, streamOf(f, "alice", [][]byte{v}), 1)
	f.Add(ContentTypeStream, streamOf(f, "bob", nil), 1)
	f.Add(ContentTypeVoucher+"; charset=x", v, 1)
	f.Add("text/plain", v, 1)
	f.Fuzz(func(t *testing.T, ctype string, body []byte, maxBatch int) {
		if maxBatch < 1 || maxBatch > 100 {
			return
		}
		vs, err := ReadUpload(ctype, bytes.NewReader(body), "alice", maxBatch)
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) || re.code < 400 || re.code >= 500 {
				t.Fatalf("error %v is not a 4xx requestError", err)
			}
			if re.code == http.StatusRequestEntityTooLarge && len(vs) != 0 {
				t.Fatal("vouchers returned with an error")
			}
			return
		}
		if len(vs) > maxBatch {
			t.Fatalf("%d vouchers > maxBatch %d", len(vs), maxBatch)
		}
		for _, v := range vs {
			if len(v) > psi.MaxVoucherSize {
				t.Fatal("oversized voucher")
			}
		}
	})
}
