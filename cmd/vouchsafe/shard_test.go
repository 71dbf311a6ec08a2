package main

import (
	"bufio"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestShardedHashUnion runs `vouchsafe hash` as N shard processes (with
// --shard K/N, and the last one as a Kubernetes Indexed Job pod would, with
// --shards N and $JOB_COMPLETION_INDEX) and checks that their outputs are
// disjoint and together equal one unsharded run's. PDQ needs no ONNX Runtime.
func TestShardedHashUnion(t *testing.T) {
	bin, err := exec.LookPath("vouchsafe") // testscript.Main puts the test binary there
	if err != nil {
		t.Fatal(err)
	}
	photos, err := filepath.Abs(filepath.Join("..", "..", "testdata", "photos"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := func(out string, env []string, args ...string) map[string]string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"hash", "--algo", "pdq", "--progress", "never", "--force", "-o", out}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			// A non-image input is an error record and exit status 1.
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitSomeFail {
				t.Fatalf("hash %v: %v\n%s", args, err, b)
			}
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		recs := map[string]string{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r struct {
				Path      string
				Vouchsafe int // set in the header line
			}
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			if r.Vouchsafe != 0 {
				continue
			}
			if _, dup := recs[r.Path]; dup {
				t.Fatalf("%s: %s twice", out, r.Path)
			}
			recs[r.Path] = sc.Text()
		}
		return recs
	}
	whole := run(filepath.Join(dir, "all.jsonl"), nil, photos)
	if len(whole) < 10 {
		t.Fatalf("only %d records in the unsharded run", len(whole))
	}
	const n = 4
	union := map[string]string{}
	for k := range n {
		var got map[string]string
		if k == n-1 {
			got = run(filepath.Join(dir, "s.jsonl"), []string{"JOB_COMPLETION_INDEX=" + strconv.Itoa(k)}, "--shards", strconv.Itoa(n), photos)
		} else {
			got = run(filepath.Join(dir, "s.jsonl"), nil, "--shard", strconv.Itoa(k)+"/"+strconv.Itoa(n), photos)
		}
		// The assignment hashes the absolute path, so which shard is empty
		// (14 photos, 4 shards) depends on the checkout's folder; none may
		// hold everything.
		if len(got) == len(whole) {
			t.Errorf("shard %d/%d has all %d inputs", k, n, len(whole))
		}
		for p, rec := range got {
			if _, dup := union[p]; dup {
				t.Errorf("%s is in two shards", p)
			}
			union[p] = rec
		}
	}
	if !maps.Equal(union, whole) {
		t.Errorf("the shards' union (%d records) differs from the unsharded run (%d)", len(union), len(whole))
	}
}
