package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMakeDemoWithoutTurbojpeg runs the README's `make demo` with the
// libjpeg-turbo check pointed at an empty prefix, as on a machine where it is
// missing and cannot be installed: the build must fall back to the pure-Go
// decoders, say so in one line, and still hash every sample photo.
func TestMakeDemoWithoutTurbojpeg(t *testing.T) {
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed: the Makefile's fallback is not checked")
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: the Makefile's fallback is not checked")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	empty := filepath.Join(tmp, "prefix")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mk, "--no-print-directory", "demo",
		"TURBOJPEG_PREFIX="+empty, "BIN="+filepath.Join(tmp, "vouchsafe"), "GO="+gocmd)
	cmd.Dir = root
	// The outer make's and go test's settings must not decide for the inner one.
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "CGO_ENABLED", "MAKEFLAGS", "MFLAGS", "MAKELEVEL":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("make demo without libjpeg-turbo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.Bytes(), stderr.Bytes())
	}

	var fallback []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(l, "deps: ") {
			fallback = append(fallback, l)
		}
	}
	if len(fallback) != 1 || !strings.Contains(fallback[0], "not found under "+empty) ||
		!strings.Contains(fallback[0], "WITHOUT cgo") || !strings.Contains(fallback[0], "image/jpeg") {
		t.Errorf("want one line naming the fallback and its cost; stderr:\n%s", stderr.Bytes())
	}
	if !strings.Contains(stdout.String(), "CGO_ENABLED=0 "+gocmd+" build") {
		t.Errorf("the demo was not built without cgo; stdout:\n%s", stdout.Bytes())
	}

	// Every sample photo hashed, none failed.
	ents, err := os.ReadDir(filepath.Join(root, "testdata", "photos"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, e := range ents {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png", ".webp", ".gif":
			want[e.Name()] = true
		}
	}
	hex24 := regexp.MustCompile(`^[0-9a-f]{24}$`)
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r struct {
			Path, Hash, Error string
			Vouchsafe         int // set in the output's header line
		}
		if !strings.HasPrefix(sc.Text(), "{") || json.Unmarshal(sc.Bytes(), &r) != nil || r.Vouchsafe != 0 {
			continue // make's echo of its commands, or the header
		}
		if r.Error != "" || !hex24.MatchString(r.Hash) {
			t.Errorf("%s: hash %q, error %q", r.Path, r.Hash, r.Error)
		}
		delete(want, filepath.Base(r.Path))
	}
	if len(want) > 0 || len(ents) < 10 {
		t.Errorf("sample photos not hashed: %v (of %d files)", want, len(ents))
	}
}
