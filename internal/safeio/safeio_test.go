//go:build unix

package safeio

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := os.WriteFile(good, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.jpg")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(4 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	links := map[string]string{"zero.jpg": "/dev/zero", "urandom.jpg": "/dev/urandom", "fifolink.jpg": fifo, "goodlink": good}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}

	for _, name := range []string{good, filepath.Join(dir, "goodlink")} {
		b, err := ReadFile(name, 5)
		if err != nil || string(b) != "hello" {
			t.Errorf("ReadFile(%s, 5) = %q, %v", name, b, err)
		}
	}
	if _, err := ReadFile(good, 4); !errors.Is(err, ErrTooLarge) {
		t.Errorf("5-byte file with cap 4: %v, want ErrTooLarge", err)
	}
	if _, err := ReadFile(sparse, 1<<30); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), sparse) {
		t.Errorf("4 GiB sparse file: %v, want ErrTooLarge naming it", err)
	}
	// Each of these used to block forever (FIFO) or grow without bound.
	for _, name := range []string{fifo, "/dev/zero", "/dev/urandom", dir,
		filepath.Join(dir, "zero.jpg"), filepath.Join(dir, "urandom.jpg"), filepath.Join(dir, "fifolink.jpg")} {
		if _, err := ReadFile(name, 1<<20); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), name) {
			t.Errorf("ReadFile(%s) = %v, want ErrNotRegular naming it", name, err)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestOpenStream(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "list")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	// A FIFO is a stream (process substitution); opening it does not wait.
	f, err := OpenStream(fifo)
	if err != nil {
		t.Fatalf("OpenStream(FIFO): %v", err)
	}
	f.Close()
	for _, name := range []string{"/dev/zero", dir} {
		if _, err := OpenStream(name); !errors.Is(err, ErrNotRegular) {
			t.Errorf("OpenStream(%s) = %v, want ErrNotRegular", name, err)
		}
	}
}

func TestLimitReader(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10} {
		b, err := io.ReadAll(LimitReader(bytes.NewReader(make([]byte, n)), "x", 10))
		if err != nil || len(b) != n {
			t.Errorf("%d bytes, cap 10: %d bytes, %v", n, len(b), err)
		}
	}
	b, err := io.ReadAll(LimitReader(bytes.NewReader(make([]byte, 11)), "x", 10))
	if !errors.Is(err, ErrTooLarge) || len(b) > 10 {
		t.Errorf("11 bytes, cap 10: %d bytes, %v", len(b), err)
	}
	f, err := Open("/dev/null", 10)
	if err == nil {
		f.Close()
		t.Error("Open(/dev/null): no error")
	}
}

func TestFileCap(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(name, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The file grows after the size check: reads still stop at the cap.
	if err := os.WriteFile(name, make([]byte, 200), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if !errors.Is(err, ErrTooLarge) || len(b) > 100 || !strings.Contains(err.Error(), name+": file too large: more than 100 bytes") {
		t.Errorf("file grown to 200 bytes, cap 100: read %d, %v", len(b), err)
	}
}

// ReadAll reads a file that grew after the open, under the cap, whole: its
// buffer, sized at open, grows.
func TestFileReadAllGrown(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(name, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	grown := bytes.Repeat([]byte("0123456789"), 5)
	if err := os.WriteFile(name, grown, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := f.ReadAll(); err != nil || !bytes.Equal(b, grown) {
		t.Errorf("ReadAll of a file grown from 5 to 50 bytes: %q, %v", b, err)
	}
}

func TestReadFileHead(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	data := []byte("MAGIC and the rest of the file")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	wrong := errors.New("wrong magic")
	for _, head := range []int{1, 5, 100} {
		var seen []byte
		b, err := ReadFileHead(name, 100, head, func(h []byte) error { seen = bytes.Clone(h); return nil })
		if err != nil || !bytes.Equal(b, data) || !bytes.Equal(seen, data[:min(head, len(data))]) {
			t.Errorf("head %d: %q, %v; check saw %q", head, b, err, seen)
		}
		if _, err := ReadFileHead(name, 100, head, func([]byte) error { return wrong }); err != wrong {
			t.Errorf("head %d: check error not returned: %v", head, err)
		}
	}
}
