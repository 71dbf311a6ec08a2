package results

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func q(n int) *int { return &n }

func TestRoundTrip(t *testing.T) {
	for _, f := range []Format{JSONL, CSV} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, f, true)
			if err != nil {
				t.Fatal(err)
			}
			recs := []Record{
				{Path: "a.jpg", Hash: "0123456789abcdef01234567", Width: 10, Height: 20},
				{Path: "dir with space/b,\"c\".png", Error: "decode: bad\nthing"},
				{Path: "p.jpg", Hash: strings.Repeat("ab", 32), Width: 1, Height: 1, Quality: q(87)},
			}
			for _, r := range recs {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			d, err := Scan(bytes.NewReader(buf.Bytes()), f)
			if err != nil {
				t.Fatal(err)
			}
			if d.Records != 3 || len(d.Hashed) != 2 || !d.Hashed["a.jpg"] || !d.Hashed["p.jpg"] || d.Hashed[recs[1].Path] {
				t.Fatalf("scan = %+v", d)
			}
			if d.Valid != int64(buf.Len()) {
				t.Fatalf("valid = %d, want %d", d.Valid, buf.Len())
			}
			if f == CSV && !d.Header {
				t.Fatal("CSV header not seen")
			}
			if strings.Count(buf.String(), "\n") != 3+btoi(f == CSV) {
				t.Fatalf("error text was not kept on one line:\n%s", buf.String())
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A torn final line (the process died mid-write) is cut on resume, and
// appending continues after the last complete record.
func TestResumeCutsTornTail(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.jsonl")
	good := `{"path":"a.jpg","hash":"0123456789abcdef01234567","width":1,"height":1}` + "\n" +
		`{"path":"b.jpg","error":"bad"}` + "\n"
	if err := os.WriteFile(p, []byte(good+`{"path":"c.jpg","ha`), 0o644); err != nil {
		t.Fatal(err)
	}
	f, d, err := OpenForResume(p, JSONL)
	if err != nil {
		t.Fatal(err)
	}
	if d.Records != 2 || !d.Hashed["a.jpg"] || d.Hashed["b.jpg"] || d.Hashed["c.jpg"] {
		t.Fatalf("done = %+v", d)
	}
	w, _ := NewWriter(f, JSONL, false)
	w.Write(Record{Path: "c.jpg", Hash: "ffffffffffffffffffffffff", Width: 2, Height: 2})
	w.Flush()
	f.Close()
	got, _ := os.ReadFile(p)
	want := good + `{"path":"c.jpg","hash":"ffffffffffffffffffffffff","width":2,"height":2}` + "\n"
	if string(got) != want {
		t.Fatalf("file after resume:\n%s\nwant:\n%s", got, want)
	}
}

func TestScanRejectsForeignFile(t *testing.T) {
	for _, c := range []struct {
		f    Format
		body string
	}{
		{JSONL, "not json\n"},
		{JSONL, `{"hash":"00"}` + "\n"},
		{CSV, "a,b\n"},
	} {
		if _, err := Scan(strings.NewReader(c.body), c.f); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("Scan(%q) error = %v, want one naming line 1", c.body, err)
		}
	}
}

func TestWriterFlushesWholeLines(t *testing.T) {
	var writes []string
	w, _ := NewWriter(writerFunc(func(b []byte) { writes = append(writes, string(b)) }), JSONL, false)
	w.FlushBytes = 1 // flush after every record
	for i := range 5 {
		w.Write(Record{Path: strings.Repeat("x", i+1), Hash: "0123456789abcdef01234567"})
	}
	w.Flush()
	if len(writes) != 5 {
		t.Fatalf("%d writes, want 5", len(writes))
	}
	for _, s := range writes {
		if !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
			t.Fatalf("write %q is not one whole line", s)
		}
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }

func FuzzScan(f *testing.F) {
	f.Add([]byte(`{"path":"a","hash":"0123456789abcdef01234567"}`+"\n"), false)
	f.Add([]byte("path,hash,width,height,quality,error\na,00,1,1,,\n"), true)
	f.Add([]byte("\n\n{"), false)
	f.Fuzz(func(t *testing.T, b []byte, csv bool) {
		fm := JSONL
		if csv {
			fm = CSV
		}
		d, err := Scan(bytes.NewReader(b), fm)
		if err != nil {
			return
		}
		if d.Valid > int64(len(b)) || (d.Valid > 0 && b[d.Valid-1] != '\n') {
			t.Fatalf("valid prefix %d of %d bytes does not end a line", d.Valid, len(b))
		}
	})
}
