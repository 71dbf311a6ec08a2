//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/ort/orttest"
)

// TestTorture hashes a deterministic corpus of corrupt files (truncations,
// bit flips, broken headers, decompression bombs, FIFOs, device symlinks,
// a huge sparse file) mixed with good files of every format, with the real
// binary, for NeuralHash and PDQ, and checks: no panic, a record for every
// input, every good file hashed as when hashed alone, peak RSS under 1.5 GB.
// VOUCHSAFE_TORTURE=N sets the number of corrupt files (default 120, as CI
// runs it; `make torture` uses 1200) and VOUCHSAFE_TORTURE_BOMBS=1 adds
// 16-bit PNGs of 8000² and 13377² (0.9 and 2.5 GB to decode).
func TestTorture(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	orttest.Library(t)
	n := 120
	if s := os.Getenv("VOUCHSAFE_TORTURE"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatalf("VOUCHSAFE_TORTURE=%q", s)
		}
	}
	bombs := os.Getenv("VOUCHSAFE_TORTURE_BOMBS") == "1"
	dir := t.TempDir()
	bin := buildVouchsafe(t, dir)
	lib := filepath.Join(dir, "lib")
	good, bad := buildCorpus(t, lib, n, bombs)
	t.Logf("corpus: %d good files, %d corrupt or special ones (bombs: %v)", len(good), bad, bombs)

	for _, algo := range []string{"neuralhash", "pdq"} {
		alone := map[string]string{}
		for _, g := range good {
			recs, _, _ := tortureRun(t, bin, algo, g)
			if len(recs) != 1 || recs[0].Hash == "" {
				t.Fatalf("%s: %s alone: %+v", algo, g, recs)
			}
			alone[g] = recs[0].Hash
		}
		recs, rss, wall := tortureRun(t, bin, algo, "--workers", "4", lib)
		if bombs {
			// The same corpus without the bombs, for the RSS figure.
			ents, err := os.ReadDir(lib)
			if err != nil {
				t.Fatal(err)
			}
			// A list file, not arguments: ONNX Runtime 1.29 crashes in
			// CreateOrtEnv with a very long command line.
			var list bytes.Buffer
			for _, e := range ents {
				if e.Name() != "bombs" && e.Name() != "fifo.jpg" {
					fmt.Fprintln(&list, filepath.Join(lib, e.Name()))
				}
			}
			listFile := filepath.Join(t.TempDir(), "list")
			if err := os.WriteFile(listFile, list.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			recs2, rss2, wall2 := tortureRun(t, bin, algo, "--workers", "4", "--list", listFile)
			t.Logf("%s without bombs: %d records, peak RSS %d MiB, %.1fs", algo, len(recs2), rss2>>20, wall2.Seconds())
		}
		byPath := map[string]tortureRecord{}
		failed := 0
		for _, r := range recs {
			byPath[r.Path] = r
			if r.Error != "" {
				failed++
			}
		}
		if len(byPath) != len(good)+bad-1 { // the FIFO itself is skipped by the walk
			t.Errorf("%s: %d records for %d inputs", algo, len(byPath), len(good)+bad-1)
		}
		for _, g := range good {
			if r := byPath[g]; r.Hash != alone[g] {
				t.Errorf("%s: %s: %q in the corpus, %q alone (%s)", algo, g, r.Hash, alone[g], r.Error)
			}
		}
		if rss > 1500<<20 {
			t.Errorf("%s: peak RSS %d MiB, over 1.5 GB", algo, rss>>20)
		}
		t.Logf("%s: %d records, %d failed, peak RSS %d MiB, %.1fs", algo, len(recs), failed, rss>>20, wall.Seconds())
	}
}

type tortureRecord struct {
	Path  string `json:"path"`
	Hash  string `json:"hash"`
	Error string `json:"error"`
}

// tortureRun runs the binary and returns its records, peak RSS and time.
func tortureRun(t *testing.T, bin, algo string, args ...string) ([]tortureRecord, int64, time.Duration) {
	t.Helper()
	// A hang guard, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"hash", "-v", "--algo", algo}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		t.Fatalf("%s %v: %v\n%s", algo, args, err, stderr.Bytes())
	}
	if bytes.Contains(stderr.Bytes(), []byte("panic")) {
		t.Fatalf("%s %v: panic\n%s", algo, args, stderr.Bytes())
	}
	var recs []tortureRecord
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r tortureRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad output line %q: %v", sc.Text(), err)
		}
		if r.Path != "" {
			recs = append(recs, r)
		}
	}
	// The binary's own VmHWM: rusage would count this process's size at
	// the fork (Go forks with CLONE_VM).
	m := regexp.MustCompile(`peak RSS (\d+) MiB`).FindSubmatch(stderr.Bytes())
	if m == nil {
		t.Fatalf("%s %v: no peak RSS in\n%s", algo, args, stderr.Bytes())
	}
	rss, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return recs, rss << 20, wall
}

// buildCorpus writes the good files and n corrupt ones (plus special files)
// into dir; it returns the good paths and the number of other inputs.
func buildCorpus(t *testing.T, dir string, n int, bombs bool) ([]string, int) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var srcs []string
	for _, g := range []string{"../../testdata/photos/*", "../../internal/imgproc/testdata/formats/*", "../../pdq/testdata/arith.jpg"} {
		m, _ := filepath.Glob(g)
		for _, f := range m {
			if ext := filepath.Ext(f); ext != ".md" && !strings.HasPrefix(filepath.Base(f), "want_") {
				srcs = append(srcs, f)
			}
		}
	}
	var good []string
	datas := make([][]byte, len(srcs))
	for i, s := range srcs {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		datas[i] = b
		p := filepath.Join(dir, fmt.Sprintf("good_%02d_%s", i, filepath.Base(s)))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		good = append(good, p)
	}
	rng := rand.New(rand.NewPCG(11, 11))
	bad := 0
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		bad++
	}
	for k := 0; bad < n; k++ {
		i := k % len(srcs)
		b := bytes.Clone(datas[i])
		ext := filepath.Ext(srcs[i])
		switch k / len(srcs) % 4 {
		case 0: // truncation
			b = b[:rng.IntN(len(b))]
		case 1: // bit flips
			for range 1 + rng.IntN(8) {
				b[rng.IntN(len(b))] ^= 1 << rng.IntN(8)
			}
		case 2: // header corruption: the first 64 bytes
			for range 1 + rng.IntN(4) {
				b[rng.IntN(min(64, len(b)))] = byte(rng.IntN(256))
			}
		case 3: // garbage after a valid signature
			cut := min(len(b), 16)
			b = append(b[:cut], make([]byte, rng.IntN(4096))...)
			rng.Shuffle(len(b)-cut, func(x, y int) { b[cut+x], b[cut+y] = b[cut+y], b[cut+x] })
		}
		write(fmt.Sprintf("bad_%04d%s", k, ext), b)
	}
	// Bombs: small files, large images. With bombs, four that fit the
	// default budget one at a time (8000² 16-bit: about 0.9 GB each to
	// decode) and two that do not fit at all (13377², 2.5 GB).
	sides := []int{3000, 3000}
	if bombs {
		sides = []int{8000, 8000, 8000, 8000, 13377, 13377}
	}
	for i, side := range sides {
		if err := os.MkdirAll(filepath.Join(dir, "bombs"), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, "bombs", fmt.Sprintf("bomb_%d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		if err := enc.Encode(f, image.NewNRGBA64(image.Rect(0, 0, side, side))); err != nil {
			t.Fatal(err)
		}
		f.Close()
		bad++
	}
	// Special files: a FIFO (skipped by the walk), symlinks to it and to
	// devices, a sparse file of 4 GiB.
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad++
	for name, target := range map[string]string{"fifolink.jpg": "fifo.jpg", "zero.jpg": "/dev/zero", "urandom.png": "/dev/urandom"} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		bad++
	}
	f, err := os.Create(filepath.Join(dir, "sparse.png"))
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(4 << 30)
	f.Close()
	bad++
	return good, bad
}

// buildVouchsafe builds the binary into dir: these tests need a process of
// their own (its peak RSS, signals).
func buildVouchsafe(t *testing.T, dir string) string {
	bin := filepath.Join(dir, "vouchsafe")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestSignalStopsRun: SIGINT stops a run that waits on a path list from
// stdin that nobody writes to, and one given a FIFO, with exit status 2.
// Before issue 11 the first waited for stdin forever and the second
// blocked in open(2), deaf to signals.
func TestSignalStopsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	orttest.Library(t)
	dir := t.TempDir()
	bin := buildVouchsafe(t, dir)
	fifo := filepath.Join(dir, "fifo.jpg")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, algo := range []string{"neuralhash", "pdq"} {
		// A hang guard, not a timing assertion.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, bin, "hash", "-v", "--algo", algo, "--list", "-", fifo)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(stdin, fifo) // and then nothing more, but stdin stays open
		// hash writes its header line once its signal handler is in place
		// (a signal before that would kill the process, failing the
		// exit-status check below); then it waits on stdin.
		out := bufio.NewReader(stdout)
		if _, err := out.ReadString('\n'); err != nil {
			t.Fatalf("%s: no header: %v\n%s", algo, err, stderr.Bytes())
		}
		cmd.Process.Signal(os.Interrupt)
		// Wait closes stdout, so its reads end first: at the exit, or when
		// the hang guard kills the process.
		io.Copy(io.Discard, out)
		err = cmd.Wait()
		hung := ctx.Err() != nil
		cancel()
		stdin.Close()
		if hung {
			t.Fatalf("%s: still running 2 minutes after SIGINT\n%s", algo, stderr.Bytes())
		}
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("%s: %v after SIGINT, want exit status 2\n%s", algo, err, stderr.Bytes())
		}
	}
}
