package inputs

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vouchsafe/vouchsafe/engine"
)

func paths(t *testing.T, seq func(func(engine.Input) bool)) []string {
	t.Helper()
	var out []string
	for in := range seq {
		p := in.Path
		if in.Err != nil {
			p += " ERR"
		}
		out = append(out, p)
	}
	return out
}

// Walk: files named directly always, folders walked in lexical order for
// image names, hidden entries skipped, a missing root reported.
func TestWalk(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b.jpg", "a/c.PNG", "a/notes.txt", ".hidden/d.jpg", "a/.e.jpg", "z.txt"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	var err error
	got := paths(t, Walk(context.Background(), []string{filepath.Join(dir, "z.txt"), dir, filepath.Join(dir, "missing")}, &err))
	want := []string{"z.txt", "a/c.PNG", "b.jpg", "missing ERR"}
	for i := range want {
		want[i] = filepath.Join(dir, want[i])
	}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Walk = %q, %v; want %q", got, err, want)
	}
	// The consumer may stop early.
	n := 0
	for range Walk(context.Background(), []string{dir, dir}, &err) {
		n++
		break
	}
	if n != 1 || err != nil {
		t.Fatalf("early stop: %d inputs, %v", n, err)
	}
	// A cancelled walk says why.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := paths(t, Walk(ctx, []string{dir}, &err)); len(got) != 0 || err == nil {
		t.Fatalf("cancelled: %q, %v", got, err)
	}
}

func TestReadList(t *testing.T) {
	var err error
	got := paths(t, ReadList(strings.NewReader("a b.jpg\r\n\n  \nc.png\nlast"), &err))
	if want := []string{"a b.jpg", "c.png", "last"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("ReadList = %q, %v; want %q", got, err, want)
	}
	if got := paths(t, ReadList(strings.NewReader(strings.Repeat("x", MaxLine+1)), &err)); len(got) != 0 || err == nil {
		t.Fatalf("over-long line: %q, %v", got, err)
	}
}

func FuzzReadList(f *testing.F) {
	f.Add([]byte("a.jpg\r\nb c.png\n\n"))
	f.Add([]byte{0, '\n', 0xff, '\r'})
	f.Fuzz(func(t *testing.T, b []byte) {
		var err error
		for in := range ReadList(strings.NewReader(string(b)), &err) {
			if strings.TrimSpace(in.Path) == "" || strings.ContainsAny(in.Path, "\n") || strings.HasSuffix(in.Path, "\r") {
				t.Fatalf("path %q", in.Path)
			}
		}
	})
}
