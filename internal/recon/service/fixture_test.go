package service

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/vouchsafe/vouchsafe/derivative"
	"github.com/vouchsafe/vouchsafe/internal/recon/store"
	"github.com/vouchsafe/vouchsafe/psi"
)

// testParams are small, so that vouchers are cheap and the threshold is
// reached with four real matches.
var testParams = psi.Params{T: 3, S: 6, ADLen: 512}

// Tokens of the test tokens file.
const (
	tokAlice = "alice-token-0123456789"
	tokBob   = "bob-token-0123456789ab"
	tokGate  = "gateway-token-01234567"
	tokOps   = "operator-token-0123456"
)

const testTokens = `# test clients
alice-phone ingest   ` + tokAlice + `  alice
bob-phone   ingest   ` + tokBob + `  bob
gateway     ingest   ` + tokGate + `  *
ops         operator ` + tokOps + `
`

func drbg(label string) io.Reader {
	return rand.NewChaCha8(sha256.Sum256([]byte(label)))
}

func hashN(label string, i int) psi.Hash {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	s := sha256.Sum256(append([]byte(label), b[:]...))
	var h psi.Hash
	copy(h[:], s[:])
	return h
}

func idN(label string, i int) psi.ID {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	s := sha256.Sum256(append([]byte("id:"+label), b[:]...))
	var id psi.ID
	copy(id[:], s[:])
	return id
}

// epoch is one table with its key and members.
type epoch struct {
	table   *psi.Table
	key     *psi.ServerKey
	keyFile string
	members []psi.Hash
}

// fixture is a set of epochs with key files on disk and a tokens file.
type fixture struct {
	dir        string
	epochs     []*epoch
	tokensFile string
	deriv      []byte
}

func newFixture(t testing.TB, label string, nEpochs, members int) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	for e := 0; e < nEpochs; e++ {
		ep := &epoch{}
		for i := 0; i < members; i++ {
			ep.members = append(ep.members, hashN(fmt.Sprintf("%s/%d/member", label, e), i))
		}
		res, err := psi.BuildTable(drbg(fmt.Sprintf("%s/%d/table", label, e)), ep.members, psi.TableOptions{Params: testParams, Epoch: uint64(e + 1)})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Dropped) != 0 {
			t.Fatalf("%d dropped", len(res.Dropped))
		}
		ep.table, ep.key = res.Table, res.Key
		kb, err := ep.key.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		ep.keyFile = filepath.Join(f.dir, fmt.Sprintf("epoch%d.key", e))
		if err := os.WriteFile(ep.keyFile, kb, 0o600); err != nil {
			t.Fatal(err)
		}
		f.epochs = append(f.epochs, ep)
	}
	f.tokensFile = filepath.Join(f.dir, "tokens")
	if err := os.WriteFile(f.tokensFile, []byte(testTokens), 0o600); err != nil {
		t.Fatal(err)
	}
	enc, err := derivative.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	if f.deriv, err = enc.Encode(img, testParams.MaxDerivative()); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) keyFiles() []string {
	var out []string
	for _, e := range f.epochs {
		out = append(out, e.keyFile)
	}
	return out
}

func (f *fixture) server(t testing.TB) *psi.Server {
	t.Helper()
	srv, err := LoadKeys(f.keyFiles())
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// vouchers makes vouchers for account against epoch e: real members
// members[from:from+n] and nonMembers non-members, with the given synthetic
// rate; ids derive from label so that reruns give the same ids.
func (f *fixture) vouchers(t testing.TB, acct *psi.Account, e, from, n, nonMembers int, rate float64, label string) [][]byte {
	t.Helper()
	c, err := psi.NewClient(f.epochs[e].table, acct, &psi.ClientOptions{SyntheticRate: rate, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var trs []psi.Triple
	for i := from; i < from+n; i++ {
		trs = append(trs, psi.Triple{Hash: f.epochs[e].members[i], ID: idN(label, i), Derivative: f.deriv})
	}
	for i := 0; i < nonMembers; i++ {
		trs = append(trs, psi.Triple{Hash: hashN(label+"/non", i), ID: idN(label+"/non", i), Derivative: f.deriv})
	}
	vs, err := c.Vouchers(drbg(label+"/vouchers"), trs)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func newAccount(t testing.TB, label string) *psi.Account {
	t.Helper()
	a, err := psi.NewAccount(drbg("account/"+label), label)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// harness is a service over loopback with a real store file.
type harness struct {
	t    testing.TB
	f    *fixture
	svc  *Service
	st   *store.Bolt
	http *httptest.Server
	path string
}

func newHarness(t testing.TB, f *fixture, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, f: f, path: filepath.Join(t.TempDir(), "store.db")}
	var err error
	if h.st, err = store.Open(h.path, nil); err != nil {
		t.Fatal(err)
	}
	toks, err := LoadTokens(f.tokensFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Server: f.server(t), Store: h.st, Tokens: toks, Workers: 2}
	if mod != nil {
		mod(&cfg)
	}
	if h.svc, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	h.http = httptest.NewServer(h.svc)
	t.Cleanup(func() {
		h.http.Close()
		h.st.Close()
	})
	return h
}

// pgHarness is one service instance on a shared PostgreSQL database, with
// its own connection pool as a separate process would have; mod, if not
// nil, changes the configuration first.
func pgHarness(t *testing.T, f *fixture, url string, opts *store.PostgresOptions, mod func(*Config)) *harness {
	t.Helper()
	st, err := store.OpenPostgres(t.Context(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := LoadTokens(f.tokensFile)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	cfg := Config{Server: f.server(t), Store: st, Tokens: toks, Workers: 2}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	h := &harness{t: t, f: f, svc: svc, http: httptest.NewServer(svc)}
	t.Cleanup(func() {
		h.http.Close()
		st.Close()
	})
	return h
}

// do sends a request and returns the status and body.
func (h *harness) do(method, path, token, ctype string, body []byte) (int, []byte) {
	h.t.Helper()
	resp, b := h.send(method, path, token, ctype, bytes.NewReader(body))
	return resp.StatusCode, b
}

// send sends a request with body as it is (a reader of unknown length goes
// chunked) and returns the answer, its body read and closed, and that body;
// token and ctype, if not empty, set Authorization and Content-Type.
func (h *harness) send(method, path, token, ctype string, body io.Reader) (*http.Response, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.http.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := h.http.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, b
}

// upload posts vouchers as a stream and decodes the answer.
func (h *harness) upload(account, token string, vs [][]byte) (int, *IngestResult) {
	h.t.Helper()
	code, b := h.do("POST", "/v1/accounts/"+account+"/vouchers", token, ContentTypeStream, streamOf(h.t, "", vs))
	if code != http.StatusOK {
		return code, nil
	}
	var res IngestResult
	if err := json.Unmarshal(b, &res); err != nil {
		h.t.Fatalf("%v: %s", err, b)
	}
	return code, &res
}

func (h *harness) account(account string) (*AccountView, *RevealView) {
	h.t.Helper()
	code, b := h.do("GET", "/v1/accounts/"+account, tokOps, "", nil)
	if code != http.StatusOK {
		h.t.Fatalf("GET account %s: %d %s", account, code, b)
	}
	var v AccountView
	if err := json.Unmarshal(b, &v); err != nil {
		h.t.Fatal(err)
	}
	if v.LastReveal == nil {
		return &v, nil
	}
	var rv RevealView
	if err := json.Unmarshal(v.LastReveal, &rv); err != nil {
		h.t.Fatal(err)
	}
	return &v, &rv
}

func streamOf(t testing.TB, label string, vs [][]byte) []byte {
	var buf bytes.Buffer
	w, err := psi.NewVoucherWriter(&buf, label)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if err := w.Write(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
