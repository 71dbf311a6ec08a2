package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/recon/store"
	"github.com/vouchsafe/vouchsafe/psi"
)

// buildVouchsafe builds the command into a temporary folder.
func buildVouchsafe(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: cannot build the vouchsafe command")
	}
	bin := filepath.Join(t.TempDir(), "vouchsafe")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/vouchsafe/vouchsafe/cmd/vouchsafe")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is one run of `vouchsafe serve`.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
	done   chan error
}

func startServe(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--addr-file", addrFile}, args...)
	p := &proc{cmd: exec.Command(bin, args...), stderr: new(bytes.Buffer), done: make(chan error, 1)}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if b, err := os.ReadFile(addrFile); err == nil {
			p.addr = strings.TrimSpace(string(b))
			return p
		}
		select {
		case err := <-p.done:
			t.Fatalf("serve exited: %v\n%s", err, p.stderr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.cmd.Process.Kill()
			t.Fatalf("serve did not start\n%s", p.stderr)
		}
	}
}

type crashBatch struct {
	account, token string
	body           []byte
	ids            []psi.ID
	failed         bool // an attempt got no answer
}

func post(client *http.Client, addr string, b *crashBatch) (*IngestResult, error) {
	req, err := http.NewRequest("POST", "http://"+addr+"/v1/accounts/"+b.account+"/vouchers", bytes.NewReader(b.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Content-Type", ContentTypeStream)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	var res IngestResult
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// TestCrashSafety SIGKILLs the service at pseudo-random points of a stream of
// concurrent uploads, restarts it on the same store file, retries every
// unacknowledged upload, and checks that no voucher is lost or counted twice.
// It ends with a graceful shutdown during an upload that must still finish.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the vouchsafe command; skipped with -short")
	}
	bin := buildVouchsafe(t)
	f := newFixture(t, "crash", 2, 8)
	storePath := filepath.Join(t.TempDir(), "store.db")
	args := []string{"--store", storePath, "--key", f.epochs[0].keyFile, "--key", f.epochs[1].keyFile,
		"--tokens", f.tokensFile, "--rate", "0", "--reveal-interval", "0", "--workers", "2"}

	// Deterministic vouchers: three accounts, both epochs, members,
	// non-members and synthetics; some ids repeat across uploads.
	rng := rand.New(rand.NewPCG(6, 2026))
	wants, batches := crashWorkload(t, f, rng, 40)

	// Each round sends a pseudo-random number of uploads from 4 clients,
	// waits a pseudo-random moment and kills the process; after minKills
	// kills a last round runs to completion and ends with a graceful stop.
	const minKills = 20
	pending := batches
	kills, attempts, failed, dups, lostAcks := 0, 0, 0, 0, 0
	for round := 0; ; round++ {
		if round > 100 {
			t.Fatalf("%d uploads still pending after %d rounds", len(pending), round)
		}
		kill := kills < minKills
		if !kill && len(pending) == 0 {
			break
		}
		p := startServe(t, bin, args...)
		client := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
		work := make(chan *crashBatch)
		var mu sync.Mutex
		var retry []*crashBatch
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range work {
					res, err := post(client, p.addr, b)
					mu.Lock()
					attempts++
					if err != nil {
						failed++
						b.failed = true
						retry = append(retry, b)
					} else {
						dups += res.Duplicate
						if b.failed && res.Stored < len(b.ids) {
							lostAcks++ // committed before the kill, or a repeated voucher
						}
						if res.Stored+res.Duplicate != len(b.ids) {
							t.Errorf("upload answered %+v", res)
						}
					}
					mu.Unlock()
				}
			}()
		}
		n := len(pending)
		if kill {
			n = min(n, 1+rng.IntN(6))
		}
		for _, b := range pending[:n] {
			work <- b
		}
		if kill {
			// The last uploads are in flight (or just answered).
			time.Sleep(time.Duration(rng.IntN(4000)) * time.Microsecond)
			p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
			kills++
		}
		close(work)
		wg.Wait()
		client.CloseIdleConnections()
		pending = append(retry, pending[n:]...)
		if !kill {
			if len(pending) != 0 {
				t.Fatalf("uploads failed without a kill:\n%s", p.stderr)
			}
			// The graceful-shutdown upload stores one more of alice's
			// vouchers, a non-member, under a new id.
			id := gracefulShutdown(t, p, client, f)
			if w := wants["alice"]; w.ids[id] {
				t.Fatalf("the graceful-shutdown voucher's id %s repeats one of the workload", id)
			} else {
				w.ids[id] = true
				w.nonMatches++
			}
			break
		}
	}
	t.Logf("%d uploads in %d attempts, %d failed by %d SIGKILLs (%d retried uploads found vouchers already stored), %d duplicate vouchers answered", len(batches), attempts, failed, kills, lostAcks, dups)
	if failed == 0 {
		t.Fatalf("none of the %d SIGKILLs interrupted an upload: nothing was tested", kills)
	}

	st, err := store.Open(storePath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checkCrashStore(t, st, wants)
}

// crashWant is what one account's store must hold after a crash test.
type crashWant struct {
	ids, matches map[psi.ID]bool
	nonMatches   int
}

// crashWorkload makes the uploads of a crash test for alice, bob and carol:
// n vouchers in each of two epochs, cut by rng into batches of 1 to 4 of
// which about every fifth also repeats an earlier voucher, then shuffled.
// It returns what each account's store must end up with.
func crashWorkload(t *testing.T, f *fixture, rng *rand.Rand, n int) (map[string]*crashWant, []*crashBatch) {
	t.Helper()
	srv := f.server(t)
	wants := map[string]*crashWant{}
	var batches []*crashBatch
	for _, acct := range []struct{ name, token string }{{"alice", tokAlice}, {"bob", tokBob}, {"carol", tokGate}} {
		a := newAccount(t, acct.name)
		vs := f.vouchers(t, a, 0, 0, 5, n, 0.1, acct.name+"0")
		vs = append(vs, f.vouchers(t, a, 1, 2, 4, n, 0.1, acct.name+"1")...)
		w := &crashWant{ids: map[psi.ID]bool{}, matches: map[psi.ID]bool{}}
		for _, r := range srv.MatchBatch(vs, 2) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			w.ids[r.Header.ID] = true
			if r.Record != nil {
				w.matches[r.Header.ID] = true
			} else {
				w.nonMatches++
			}
		}
		wants[acct.name] = w
		for i := 0; i < len(vs); {
			k := 1 + rng.IntN(4)
			part := vs[i:min(i+k, len(vs))]
			if i > 0 && rng.IntN(5) == 0 {
				part = append(bytes2(part), vs[rng.IntN(i)]) // an earlier voucher again
			}
			b := &crashBatch{account: acct.name, token: acct.token, body: streamOf(t, "", part)}
			for _, v := range part {
				hd, err := psi.ParseVoucherHeader(v)
				if err != nil {
					t.Fatalf("%s: a made voucher: %v", acct.name, err)
				}
				b.ids = append(b.ids, hd.ID)
			}
			batches = append(batches, b)
			i += k
		}
	}
	rng.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	return wants, batches
}

// checkCrashStore checks each account's counts and match records in st
// against wants: every match stored once, none lost.
func checkCrashStore(t *testing.T, st store.Store, wants map[string]*crashWant) {
	t.Helper()
	for name, w := range wants {
		c, ok, err := st.Counts(context.Background(), name)
		if err != nil || !ok {
			t.Fatalf("%s: %v %v", name, ok, err)
		}
		wc := store.Counts{Vouchers: uint64(len(w.ids)), Matches: uint64(len(w.matches)), NonMatches: uint64(w.nonMatches)}
		if c != wc {
			t.Errorf("%s: counts %+v, want %+v", name, c, wc)
		}
		recs, err := st.Records(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		got := map[psi.ID]bool{}
		for _, b := range recs {
			var r psi.MatchRecord
			if err := r.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if got[r.ID] {
				t.Errorf("%s: match %s stored twice", name, r.ID)
			}
			got[r.ID] = true
		}
		if len(got) != len(w.matches) {
			t.Errorf("%s: %d match records, want %d", name, len(got), len(w.matches))
		}
		for id := range w.matches {
			if !got[id] {
				t.Errorf("%s: match %s lost", name, id)
			}
		}
	}
}

func bytes2(vs [][]byte) [][]byte { return append([][]byte(nil), vs...) }

// gracefulShutdown sends SIGTERM while an upload of one of alice's
// vouchers, a non-member, is still arriving: the upload must finish with
// 200 and the process exit 0. It returns the voucher's id.
func gracefulShutdown(t *testing.T, p *proc, client *http.Client, f *fixture) psi.ID {
	t.Helper()
	v := f.vouchers(t, newAccount(t, "alice"), 0, 0, 0, 1, 0, "graceful")
	hd, err := psi.ParseVoucherHeader(v[0])
	if err != nil {
		t.Fatal(err)
	}
	body := streamOf(t, "", v)
	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", "http://"+p.addr+"/v1/accounts/alice/vouchers", pr)
	req.Header.Set("Authorization", "Bearer "+tokAlice)
	req.Header.Set("Content-Type", ContentTypeStream)
	type answer struct {
		code int
		body string
		err  error
	}
	ans := make(chan answer, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			ans <- answer{0, "", err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		ans <- answer{resp.StatusCode, string(b), err}
	}()
	pw.Write(body[:20])
	time.Sleep(100 * time.Millisecond) // the request is in flight
	p.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	pw.Write(body[20:])
	pw.Close()
	a := <-ans
	if a.err != nil || a.code != http.StatusOK || !strings.Contains(a.body, `"stored":1`) {
		t.Fatalf("in-flight upload during shutdown: %d %v %s\n%s", a.code, a.err, a.body, p.stderr)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("serve exited with %v\n%s", err, p.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(p.stderr.String(), "stopped") {
		t.Errorf("no clean stop in the log:\n%s", p.stderr)
	}
	for _, secret := range []string{tokAlice, tokOps} {
		if strings.Contains(p.stderr.String(), secret) {
			t.Error("the log shows a token")
		}
	}
	return hd.ID
}
