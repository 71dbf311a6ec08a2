package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/ort"
	"github.com/vouchsafe/vouchsafe/internal/ort/orttest"
	"github.com/vouchsafe/vouchsafe/internal/recon/service"
)

// e2e runs the built command as separate processes, so that a test can
// kill them.
type e2e struct {
	t   *testing.T
	bin string
	dir string
	env []string
}

func newE2E(t *testing.T) *e2e {
	if testing.Short() {
		t.Skip("builds the vouchsafe command and runs it as processes; skipped with -short")
	}
	lib := orttest.Library(t) // the default model runs on it
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: cannot build the vouchsafe command")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "vouchsafe")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return &e2e{t: t, bin: bin, dir: dir, env: append(os.Environ(), ort.EnvLibrary+"="+lib)}
}

func (e *e2e) cmd(args ...string) *exec.Cmd {
	c := exec.Command(e.bin, args...)
	c.Dir, c.Env = e.dir, e.env
	return c
}

// run runs the command to its end and returns its stdout.
func (e *e2e) run(args ...string) string {
	e.t.Helper()
	c := e.cmd(args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		e.t.Fatalf("vouchsafe %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func (e *e2e) path(name string) string { return filepath.Join(e.dir, name) }

func (e *e2e) write(name, data string) {
	e.t.Helper()
	if err := os.WriteFile(e.path(name), []byte(data), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// waitFor polls cond (a file appearing, a line in a log) until it holds;
// the deadline only turns a hang into a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// serveProc is one run of `vouchsafe serve`.
type serveProc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	addr   string
}

func (e *e2e) serve(listen string) *serveProc {
	e.t.Helper()
	addrFile := e.path("addr")
	os.Remove(addrFile)
	p := &serveProc{stderr: new(bytes.Buffer)}
	p.cmd = e.cmd("serve", "--listen", listen, "--addr-file", addrFile, "--store", "store.db", "--key", "s.key",
		"--tokens", "tokens", "--rate", "0", "--reveal-interval", "0")
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	waitFor(e.t, "serve to listen", func() bool {
		b, err := os.ReadFile(addrFile)
		p.addr = strings.TrimSpace(string(b))
		return err == nil && p.addr != ""
	})
	return p
}

func (p *serveProc) kill() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// accountView asks the service to reveal the account now and returns its view.
func accountView(t *testing.T, addr, account string) service.AccountView {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/accounts/"+account+"/reveal", nil)
	req.Header.Set("Authorization", "Bearer "+opToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reveal %s: %s: %s", account, resp.Status, b)
	}
	var v service.AccountView
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

const (
	aliceToken = "alice-upload-token-0123456789abcdef"
	bobToken   = "bob-upload-token-0123456789abcdef"
	opToken    = "operator-token-0123456789abcdef"
)

// countAcked counts the ids the journal says the server acknowledged.
func countAcked(t *testing.T, journal string) int {
	b, _ := os.ReadFile(journal)
	n := 0
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if !strings.HasSuffix(line, "\n") {
			break
		}
		var e journalEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%s: %v", journal, err)
		}
		n += len(e.Acked)
	}
	return n
}

// Photos → voucher --upload → a real serve → reveal, above the threshold
// (alice) and below it (bob). The server is killed and restarted in the
// middle of alice's upload, and bob's client is killed and resumed: no
// voucher is lost or counted twice.
func TestVoucherUploadEndToEnd(t *testing.T) {
	e := newE2E(t)
	photos, err := filepath.Abs(filepath.Join("..", "..", "testdata", "photos"))
	if err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(photos, "*.png"))
	jpgs, _ := filepath.Glob(filepath.Join(photos, "*.jpg"))
	names = append(names, jpgs...)
	// Four copies of every photo under distinct paths: 4×len(names) inputs.
	var lib []string
	for _, sub := range []string{"a", "b", "c", "d"} {
		os.MkdirAll(e.path(filepath.Join("lib", sub)), 0o755)
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join("lib", sub, filepath.Base(n))
			e.write(p, string(b))
			lib = append(lib, p)
		}
	}
	// The table holds the hashes of two photos, from two jurisdictions.
	e.run("hash", "-o", "h.jsonl", filepath.Join("lib", "a"))
	var table []string
	for _, line := range strings.Split(strings.TrimSpace(string(must(os.ReadFile(e.path("h.jsonl"))))), "\n") {
		var r struct{ Hash string }
		json.Unmarshal([]byte(line), &r)
		if r.Hash != "" && len(table) < 2 { // the first line is the header
			table = append(table, r.Hash)
		}
	}
	e.write("list.txt", strings.Join(table, "\n")+"\n")
	e.run("db", "build", "--source", "a:US:list.txt", "--source", "b:UK:list.txt", "-o", "t.vsdb", "--key", "s.key", "--t", "3", "--s", "4")
	e.run("account", "new", "-o", "alice.key", "--label", "alice")
	e.run("account", "new", "-o", "bob.key", "--label", "bob")
	e.write("tokens", fmt.Sprintf("alice-up ingest %s alice\nbob-up ingest %s bob\nop operator %s\n", aliceToken, bobToken, opToken))
	e.write("alice.tok", aliceToken+"\n")
	e.write("bob.tok", bobToken+"\n")

	srv := e.serve("127.0.0.1:0")
	addr := srv.addr

	// Alice: every copy, 8 of them matches (t=3: above). Paths come on
	// stdin, half before the server is killed and half after.
	alice := e.cmd("voucher", "--table", "t.vsdb", "--account", "alice.key", "--list", "-", "--upload", "http://"+addr,
		"--token-file", "alice.tok", "-o", "alice.vs", "--chunk", "4", "--synthetic-rate", "0", "--progress", "never")
	stdin, err := alice.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var aliceErr bytes.Buffer
	alice.Stderr = &aliceErr
	if err := alice.Start(); err != nil {
		t.Fatal(err)
	}
	half := len(lib) / 2 / 4 * 4 // whole chunks, so all are uploaded before the kill
	io.WriteString(stdin, strings.Join(lib[:half], "\n")+"\n")
	waitFor(t, "the first half acknowledged", func() bool { return countAcked(t, e.path("alice.vs.log")) == half })
	srv.kill()
	io.WriteString(stdin, strings.Join(lib[half:], "\n")+"\n")
	stdin.Close()
	waitFor(t, "the client to retry", func() bool { return strings.Contains(aliceErr.String(), "retry") })
	srv = e.serve(addr)
	if err := alice.Wait(); err != nil {
		t.Fatalf("voucher --upload: %v\n%s", err, aliceErr.String())
	}
	if got := countAcked(t, e.path("alice.vs.log")); got != len(lib) {
		t.Fatalf("alice: %d vouchers acknowledged, want %d", got, len(lib))
	}
	v := accountView(t, addr, "alice")
	if v.Counts.Vouchers != uint64(len(lib)) || v.Counts.Matches != 8 || v.Counts.Conflicts != 0 {
		t.Fatalf("alice: counts %+v, want %d vouchers and 8 matches", v.Counts, len(lib))
	}
	var rv struct {
		AboveThreshold bool `json:"above_threshold"`
		Revealed       []struct {
			Hash string `json:"hash"`
		} `json:"revealed"`
	}
	if err := json.Unmarshal(v.LastReveal, &rv); err != nil {
		t.Fatal(err)
	}
	if !rv.AboveThreshold || len(rv.Revealed) != 8 {
		t.Fatalf("alice: above %v, %d revealed; want above with 8 revealed", rv.AboveThreshold, len(rv.Revealed))
	}

	// Bob: one copy of each photo (2 matches: below t=3). His client is
	// killed after its first uploads, and --resume finishes the job.
	bobLib := lib[:len(names)]
	e.write("bob.txt", strings.Join(bobLib, "\n")+"\n")
	bobArgs := []string{"voucher", "--table", "t.vsdb", "--account", "bob.key", "--list", "-", "--upload", "http://" + addr,
		"--token-file", "bob.tok", "-o", "bob.vs", "--chunk", "2", "--synthetic-rate", "0", "--progress", "never"}
	bob := e.cmd(bobArgs...)
	bobIn, _ := bob.StdinPipe()
	if err := bob.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(bobIn, strings.Join(bobLib[:6], "\n")+"\n") // 3 chunks, then nothing more
	waitFor(t, "bob's first uploads", func() bool { return countAcked(t, e.path("bob.vs.log")) >= 4 })
	bob.Process.Kill()
	bob.Wait()
	resume := e.cmd(append(bobArgs[:len(bobArgs)-2], "--resume", "--list", "bob.txt", "-v")...)
	var out, errb bytes.Buffer
	resume.Stdout, resume.Stderr = &out, &errb
	if err := resume.Run(); err != nil {
		t.Fatalf("voucher --resume: %v\n%s%s", err, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "resuming bob.vs") {
		t.Errorf("--resume -v did not report the earlier run:\n%s", errb.String())
	}
	v = accountView(t, addr, "bob")
	if v.Counts.Vouchers != uint64(len(bobLib)) || v.Counts.Matches != 2 || v.Counts.Conflicts != 0 {
		t.Fatalf("bob: counts %+v, want %d vouchers and 2 matches", v.Counts, len(bobLib))
	}
	rv.AboveThreshold, rv.Revealed = true, nil
	if err := json.Unmarshal(v.LastReveal, &rv); err != nil {
		t.Fatal(err)
	}
	if rv.AboveThreshold || len(rv.Revealed) != 0 {
		t.Fatalf("bob: above %v with %d revealed; want below the threshold", rv.AboveThreshold, len(rv.Revealed))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
