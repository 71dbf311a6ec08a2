package ort

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindLibrary(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, LibraryName())
	if err := os.WriteFile(lib, []byte("not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvLibrary, "")
	t.Setenv(EnvDir, "")

	// A folder or the file itself, from the flag.
	for _, arg := range []string{dir, lib} {
		if got, err := FindLibrary(arg); err != nil || got != lib {
			t.Errorf("FindLibrary(%q) = %q, %v; want %q", arg, got, err, lib)
		}
	}
	// An explicit path that does not exist is an error naming it, not a fallback.
	missing := filepath.Join(dir, "nope")
	if _, err := FindLibrary(missing); !errors.Is(err, ErrNoLibrary) || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "--ort-lib") {
		t.Errorf("missing flag path: %v", err)
	}
	t.Setenv(EnvDir, dir)
	if got, err := FindLibrary(""); err != nil || got != lib {
		t.Errorf("from $%s: %q, %v", EnvDir, got, err)
	}
	t.Setenv(EnvLibrary, missing)
	if _, err := FindLibrary(""); err == nil || !strings.Contains(err.Error(), "$"+EnvLibrary) {
		t.Errorf("bad $%s: %v", EnvLibrary, err)
	}
	// Nothing anywhere: the error says what to run.
	t.Setenv(EnvLibrary, "")
	t.Setenv(EnvDir, "")
	t.Chdir(t.TempDir())
	t.Setenv("HOME", t.TempDir())
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	_, err := FindLibrary("")
	if err == nil {
		t.Fatal("found a library with nothing installed")
	}
	for _, want := range []string{"vouchsafe setup", filepath.Join(cache, "vouchsafe", "ort")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("not found: %v; want it to name %q", err, want)
		}
	}
}

func TestParseDevice(t *testing.T) {
	for _, s := range []string{"auto", "cpu", "cuda", "coreml"} {
		if d, err := ParseDevice(s); err != nil || string(d) != s {
			t.Errorf("ParseDevice(%q) = %q, %v", s, d, err)
		}
	}
	if _, err := ParseDevice("gpu"); err == nil {
		t.Error("gpu accepted")
	}
}
