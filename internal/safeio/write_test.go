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
	// The mode is perm: not the old file's (0644, replaced by 0600), nor
	// CreateTemp's (0600, replaced by 0644). The chmod ignores the umask.
	for _, perm := range []os.FileMode{0o600, 0o644} {
		if err := WriteFile(name, []byte("new contents"), perm); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(name)
		if err != nil || !bytes.Equal(b, []byte("new contents")) {
			t.Fatalf("read back %q, %v", b, err)
		}
		st, err := os.Stat(name)
		if err != nil || st.Mode().Perm() != perm {
			t.Fatalf("mode %v, %v; want %04o", st.Mode(), err, perm)
		}
	}
	// No temporary file is left behind.
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Fatalf("%d entries in the directory, want 1", len(es))
	}
	// A failed write leaves its target as it was and no temporary file.
	// Into a missing directory: the temporary file cannot be made.
	if err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x"), 0o644); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
	if _, err := os.Lstat(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Fatalf("a failed write made its missing directory: %v", err)
	}
	// Over a directory: the rename fails after the temporary file is
	// written; the directory and its content stay.
	d := filepath.Join(dir, "d")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "in"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(d, []byte("x"), 0o644); err == nil {
		t.Fatal("renaming over a directory succeeded")
	}
	if st, err := os.Lstat(d); err != nil || !st.IsDir() {
		t.Fatalf("the directory written over: %v, %v", st, err)
	}
	if b, err := os.ReadFile(filepath.Join(d, "in")); err != nil || string(b) != "kept" {
		t.Fatalf("the directory's file after a failed write: %q, %v", b, err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 2 {
		t.Fatalf("%d entries after failed writes, want 2 (f, d)", len(es))
	}
	// Over a regular file, in a directory it may not write to. Root may
	// write anywhere and no other failure of a write over a regular file
	// can be provoked portably, so this part runs only as another user.
	if os.Geteuid() == 0 {
		t.Log("running as root: the failed write over a regular file is not tested")
		return
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(ro, "f")
	if err := os.WriteFile(old, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(ro, 0o755) })
	if err := WriteFile(old, []byte("new"), 0o644); err == nil {
		t.Fatal("writing into a read-only directory succeeded")
	}
	if b, err := os.ReadFile(old); err != nil || string(b) != "old" {
		t.Fatalf("a failed write changed the file: %q, %v", b, err)
	}
	if es, _ := os.ReadDir(ro); len(es) != 1 {
		t.Fatalf("%d entries in the read-only directory, want 1", len(es))
	}
}
