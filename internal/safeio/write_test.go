package safeio

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	if err := os.WriteFile(name, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(name, []byte("new contents"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(name)
	if err != nil || !bytes.Equal(b, []byte("new contents")) {
		t.Fatalf("read back %q, %v", b, err)
	}
	st, err := os.Stat(name)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", st.Mode(), err)
	}
	// No temporary file is left behind.
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Fatalf("%d entries in the directory, want 1", len(es))
	}
	// A failed write leaves the old file and no temporary one.
	if err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x"), 0o644); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "d"), []byte("x"), 0o644); err == nil {
		t.Fatal("renaming over a directory succeeded")
	}
	if es, _ := os.ReadDir(dir); len(es) != 2 {
		t.Fatalf("%d entries after failed writes, want 2 (f, d)", len(es))
	}
	if b, _ := os.ReadFile(name); !bytes.Equal(b, []byte("new contents")) {
		t.Fatalf("a failed write changed the file: %q", b)
	}
}
