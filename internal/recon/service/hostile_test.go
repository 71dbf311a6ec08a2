package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/vouchsafe/vouchsafe/psi"
)

func TestHostileInput(t *testing.T) {
	f := newFixture(t, "hostile", 1, 4)
	const maxBatch = 5
	var maxBody int64
	alice := newAccount(t, "alice")
	va := f.vouchers(t, alice, 0, 0, 2, 4, 0, "alice")
	maxBody = int64(len(streamOf(t, "", va[:maxBatch]))) + 100
	h := newHarness(t, f, func(c *Config) {
		c.MaxBatch, c.MaxBody = maxBatch, maxBody
	})
	if code, res := h.upload("alice", tokAlice, va[:2]); code != http.StatusOK || res.Stored != 2 {
		t.Fatalf("seed upload: %d %+v", code, res)
	}
	before := snapshot(t, h.st)
	good := streamOf(t, "", va[2:4])
	big := streamOf(t, "", [][]byte{va[2], va[3], va[4], va[5], va[2], va[3]})
	long := strings.Repeat("a", 129)

	for _, c := range []struct {
		name, method, path, token, ctype string
		body                             []byte
		want                             int
	}{
		{"no token", "POST", "/v1/accounts/alice/vouchers", "", ContentTypeStream, good, 401},
		{"bad token", "POST", "/v1/accounts/alice/vouchers", "alice-token-0123456788", ContentTypeStream, good, 401},
		{"token prefix", "POST", "/v1/accounts/alice/vouchers", tokAlice[:10], ContentTypeStream, good, 401},
		{"other account", "POST", "/v1/accounts/bob/vouchers", tokAlice, ContentTypeStream, good, 403},
		{"operator uploads", "POST", "/v1/accounts/alice/vouchers", tokOps, ContentTypeStream, good, 403},
		{"ingest reads", "GET", "/v1/accounts/alice", tokAlice, "", nil, 403},
		{"ingest reveals", "POST", "/v1/accounts/alice/reveal", tokGate, "", nil, 403},
		{"ingest metrics", "GET", "/metrics", tokAlice, "", nil, 403},
		{"dotdot", "POST", "/v1/accounts/../vouchers", tokGate, ContentTypeStream, good, 400},
		{"dotdot escaped", "POST", "/v1/accounts/%2e%2e/vouchers", tokGate, ContentTypeStream, good, 400},
		{"dotdot mixed", "POST", "/v1/accounts/.%2E/vouchers", tokGate, ContentTypeStream, good, 400},
		{"dot", "POST", "/v1/accounts/./vouchers", tokGate, ContentTypeStream, good, 400},
		{"slash escaped", "POST", "/v1/accounts/a%2Fb/vouchers", tokGate, ContentTypeStream, good, 400},
		{"slash", "POST", "/v1/accounts/a/b/vouchers", tokGate, ContentTypeStream, good, 404},
		{"traversal", "POST", "/v1/accounts/alice/../bob/vouchers", tokGate, ContentTypeStream, good, 400},
		{"double slash", "POST", "/v1/accounts//vouchers", tokGate, ContentTypeStream, good, 400},
		{"nul", "POST", "/v1/accounts/al%00ice/vouchers", tokGate, ContentTypeStream, good, 400},
		{"space", "POST", "/v1/accounts/al%20ice/vouchers", tokGate, ContentTypeStream, good, 400},
		{"too long", "POST", "/v1/accounts/" + long + "/vouchers", tokGate, ContentTypeStream, good, 400},
		{"dot account read", "GET", "/v1/accounts/%2e", tokOps, "", nil, 400},
		{"unknown account", "GET", "/v1/accounts/nobody", tokOps, "", nil, 404},
		{"unknown account reveal", "POST", "/v1/accounts/nobody/reveal", tokOps, "", nil, 404},
		{"wrong method", "GET", "/v1/accounts/alice/vouchers", tokAlice, "", nil, 405},
		{"content type", "POST", "/v1/accounts/alice/vouchers", tokAlice, "application/json", good, 415},
		{"no content type", "POST", "/v1/accounts/alice/vouchers", tokAlice, "", good, 415},
		{"batch too large", "POST", "/v1/accounts/alice/vouchers", tokAlice, ContentTypeStream, big, 413},
		{"body too large", "POST", "/v1/accounts/alice/vouchers", tokAlice, ContentTypeStream, append(bytes.Clone(good), make([]byte, maxBody)...), 413},
		{"single too large", "POST", "/v1/accounts/alice/vouchers", tokAlice, ContentTypeVoucher, make([]byte, maxBody+1), 413},
		{"stream header", "POST", "/v1/accounts/alice/vouchers", tokAlice, ContentTypeStream, []byte("VSXX\x01\x00\x00\x00"), 400},
		{"truncated frame", "POST", "/v1/accounts/alice/vouchers", tokAlice, ContentTypeStream, good[:len(good)-3], 400},
		{"huge frame", "POST", "/v1/accounts/alice/vouchers", tokAlice, ContentTypeStream, append(streamOf(t, "", nil), 0xff, 0xff, 0xff, 0xff), 400},
		{"label mismatch", "POST", "/v1/accounts/alice/vouchers", tokAlice, ContentTypeStream, streamOf(t, "bob", va[2:4]), 400},
	} {
		code, b := h.do(c.method, c.path, c.token, c.ctype, c.body)
		if code != c.want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, code, c.want, b)
			continue
		}
		if code >= 400 && code != 405 && code != 404 {
			var e errorBody
			if json.Unmarshal(b, &e) != nil || e.Error == "" {
				t.Errorf("%s: error body %q", c.name, b)
			}
		}
		if strings.Contains(string(b), tokAlice) || strings.Contains(string(b), tokGate) {
			t.Errorf("%s: answer echoes a token", c.name)
		}
	}

	// A chunked body is cut at MaxBody too (an io.MultiReader body has no
	// length, so net/http sends it chunked).
	resp, _ := h.send("POST", "/v1/accounts/alice/vouchers", tokAlice, ContentTypeStream, io.MultiReader(bytes.NewReader(good), bytes.NewReader(make([]byte, maxBody))))
	if resp.StatusCode != 413 {
		t.Errorf("chunked oversized body: %d, want 413", resp.StatusCode)
	}

	if after := snapshot(t, h.st); !equalSnap(before, after) {
		t.Fatalf("refused requests changed the store:\n%v\n%v", before, after)
	}

	// Garbage vouchers are rejected one by one; the rest of the batch is
	// stored.
	unknown := bytes.Clone(va[4])
	unknown[8] ^= 1 // db_id
	badMagic := bytes.Clone(va[4])
	badMagic[0] = 'X'
	flipped := bytes.Clone(va[5])
	flipped[200] ^= 1 // inside the ciphertext: a non-match, not an error
	batch := [][]byte{va[2], []byte("garbage"), va[3][:100], unknown, badMagic}
	code, res := h.upload("alice", tokAlice, batch)
	if code != http.StatusOK {
		t.Fatalf("mixed batch: %d", code)
	}
	want := []string{StatusStored, StatusRejected, StatusRejected, StatusRejected, StatusRejected}
	for i, v := range res.Vouchers {
		if v.Status != want[i] || (v.Status == StatusRejected) != (v.Error != "") || v.Index != i {
			t.Errorf("voucher %d: %+v, want %s", i, v, want[i])
		}
	}
	if res.Stored != 1 || res.Rejected != 4 {
		t.Errorf("mixed batch counts %+v", res)
	}
	if !strings.Contains(res.Vouchers[3].Error, "unknown db_id") {
		t.Errorf("unknown epoch: %q", res.Vouchers[3].Error)
	}
	code, res = h.upload("alice", tokAlice, [][]byte{flipped})
	if code != http.StatusOK || res.Stored != 1 {
		t.Fatalf("flipped: %d %+v", code, res)
	}
	av, _ := h.account("alice")
	if av.Counts.Vouchers != 4 || av.Counts.Matches != 2 {
		t.Errorf("alice counts %+v", av.Counts)
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, "rate", 1, 2)
	h := newHarness(t, f, func(c *Config) { c.Rate, c.Burst = 0.001, 2 })
	body := streamOf(t, "", nil)
	for i, want := range []int{200, 200, 429} {
		code, b := h.do("POST", "/v1/accounts/alice/vouchers", tokAlice, ContentTypeStream, body)
		if code != want {
			t.Fatalf("request %d: %d, want %d (%s)", i, code, want, b)
		}
	}
	// Limits are per client: bob is not affected by alice's.
	if code, _ := h.do("POST", "/v1/accounts/bob/vouchers", tokBob, ContentTypeStream, body); code != 200 {
		t.Fatalf("bob: %d", code)
	}
}

// TestNoMatchOracle checks that an upload's answer is the same for a
// matching and a non-matching voucher, and that vouchers whose outer layer
// opened but are invalid are answered like any other.
func TestNoMatchOracle(t *testing.T) {
	f := newFixture(t, "oracle", 1, 2)
	h := newHarness(t, f, nil)
	a := newAccount(t, "alice")
	member := f.vouchers(t, a, 0, 0, 1, 0, 0, "m")
	non := f.vouchers(t, a, 0, 0, 0, 1, 0, "n")
	_, rm := h.upload("alice", tokAlice, member)
	_, rn := h.upload("alice", tokAlice, non)
	rm.Vouchers[0].ID, rn.Vouchers[0].ID = "", ""
	jm, _ := json.Marshal(rm)
	jn, _ := json.Marshal(rn)
	if !bytes.Equal(jm, jn) {
		t.Fatalf("answers differ:\n%s\n%s", jm, jn)
	}
	for _, err := range []error{psi.ErrDoubleMatch, psi.ErrInnerLayer, fmt.Errorf("x: %w", psi.ErrInnerLayer)} {
		if !secretDependent(err) {
			t.Errorf("%v is not treated as secret-dependent", err)
		}
	}
	for _, err := range []error{psi.ErrUnknownEpoch, psi.ErrLength, psi.ErrPoint, psi.ErrMagic, errors.New("x")} {
		if secretDependent(err) {
			t.Errorf("%v is treated as secret-dependent", err)
		}
	}
}
