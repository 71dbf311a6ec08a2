package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/recon/service"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
	"github.com/vouchsafe/vouchsafe/psi"
)

// A batch is resent unchanged after a 503 and a dropped connection, with
// growing backoff; a 4xx answer is final.
func TestUploaderRetries(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	answers := []int{http.StatusServiceUnavailable, 0, http.StatusOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-0123456789" || r.URL.Path != "/v1/accounts/alice/vouchers" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		code := answers[min(len(bodies), len(answers))-1]
		mu.Unlock()
		switch code {
		case 0: // the connection drops without an answer
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close()
		case http.StatusOK:
			json.NewEncoder(w).Encode(service.IngestResult{Received: 2, Stored: 2,
				Vouchers: []service.VoucherStatus{{Index: 0, Status: "stored"}, {Index: 1, Status: "duplicate"}}})
		default:
			http.Error(w, "busy", code)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	tok := filepath.Join(dir, "tok")
	os.WriteFile(tok, []byte("tok-0123456789\n"), 0o600)
	u, err := newUploader(srv.URL, "alice", tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	u.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	res, err := u.send(context.Background(), [][]byte{[]byte("v1"), []byte("v2")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 2 || len(bodies) != 3 || len(waits) != 2 {
		t.Fatalf("%d attempts, %d waits, result %+v", len(bodies), len(waits), res)
	}
	if !bytes.Equal(bodies[0], bodies[1]) || !bytes.Equal(bodies[1], bodies[2]) {
		t.Fatal("a resend differs from the first upload")
	}
	for i, d := range waits {
		if d <= 0 || d > u.base<<i {
			t.Errorf("wait %d = %v, want in (0, %v]", i, d, u.base<<i)
		}
	}
	// A refusal is not retried.
	u2, _ := newUploader(srv.URL, "bob", tok, nil)
	u2.sleep = u.sleep
	n := len(bodies)
	if _, err := u2.send(context.Background(), [][]byte{[]byte("v")}); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("bad account: %v", err)
	}
	mu.Lock()
	retried := len(bodies) != n
	mu.Unlock()
	if retried {
		t.Fatalf("a 400 was retried")
	}
	// Nor is an answer for fewer vouchers than were sent taken as an acknowledgement.
	mu.Lock()
	answers, bodies = []int{http.StatusOK}, nil
	mu.Unlock()
	if _, err := u.send(context.Background(), [][]byte{[]byte("v")}); err == nil {
		t.Fatal("an answer for 2 vouchers acknowledged 1")
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty": "\n", "two": "a b\n", "big": strings.Repeat("x", maxTokenFile+1)} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := readToken(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A FIFO nobody writes to is refused, not waited on (it used to block
	// the run in open(2) for ever).
	fifo := filepath.Join(dir, "fifo")
	if err := mkfifo(fifo); err != nil {
		t.Fatal(err)
	}
	if _, err := readToken(fifo); !errors.Is(err, safeio.ErrNotRegular) || !strings.Contains(err.Error(), fifo) {
		t.Errorf("fifo: %v", err)
	}
}

// readPassState takes whatever a killed run, or anything else, left in the
// stream file and the journal without panicking, and never claims more than
// the files hold.
func FuzzReadPassState(f *testing.F) {
	var stream bytes.Buffer
	w, _ := psi.NewVoucherWriter(&stream, "alice")
	w.Flush()
	f.Add(stream.Bytes(), []byte(`{"path":"a.jpg","hash":"00","id":"00000000000000000000000000000000"}`+"\n"+`{"acked":["x"]}`+"\n"))
	f.Add(append(stream.Bytes(), 0, 0, 0, 9, 1, 2), []byte("{\"path\":\"b\"}\n{broken"))
	f.Fuzz(func(t *testing.T, s, j []byte) {
		dir := t.TempDir()
		out := filepath.Join(dir, "v.vs")
		os.WriteFile(out, s, 0o644)
		os.WriteFile(out+".log", j, 0o644)
		st, sl, jl, err := readPassState(out, "alice")
		if err != nil {
			return
		}
		if sl > int64(len(s)) || jl > int64(len(j)) || len(st.order) != len(st.voucher) {
			t.Fatalf("stream %d of %d bytes, journal %d of %d, %d ids for %d vouchers", sl, len(s), jl, len(j), len(st.order), len(st.voucher))
		}
	})
}
