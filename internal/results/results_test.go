package results

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func q(n int) *int { return &n }

var testHeader = Header{Algo: "neuralhash", Model: "default", ModelDigest: "sha256:00", Settings: "exact=false"}

const testHeader1 = `{"vouchsafe":1,"algo":"neuralhash","model":"default","model_digest":"sha256:00","settings":"exact=false"}` + "\n"

func TestRoundTrip(t *testing.T) {
	for _, f := range []Format{JSONL, CSV} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, f, &testHeader)
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
			if d.Records != 3 || len(d.Hashed) != 2 || !d.Hashed[Canonical("a.jpg")] || !d.Hashed[Canonical("p.jpg")] || d.Hashed[Canonical(recs[1].Path)] {
				t.Fatalf("scan = %+v", d)
			}
			if d.Valid != int64(buf.Len()) {
				t.Fatalf("valid = %d, want %d", d.Valid, buf.Len())
			}
			if d.Header == nil || d.Header.Algo != "neuralhash" {
				t.Fatalf("header not seen: %+v", d.Header)
			}
			if strings.Count(buf.String(), "\n") != 4+btoi(f == CSV) {
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
	good := testHeader1 + `{"path":"a.jpg","hash":"0123456789abcdef01234567","width":1,"height":1}` + "\n" +
		`{"path":"b.jpg","error":"bad"}` + "\n"
	if err := os.WriteFile(p, []byte(good+`{"path":"c.jpg","ha`), 0o644); err != nil {
		t.Fatal(err)
	}
	f, d, err := OpenForResume(p, JSONL, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	if d.Records != 2 || !d.Hashed[Canonical("a.jpg")] || d.Hashed[Canonical("b.jpg")] || d.Hashed[Canonical("c.jpg")] {
		t.Fatalf("done = %+v", d)
	}
	w, _ := NewWriter(f, JSONL, nil)
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
	w, _ := NewWriter(writerFunc(func(b []byte) { writes = append(writes, string(b)) }), JSONL, nil)
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

// The header reaches the file when NewWriter returns, before any record: a
// reader of the stream (and TestSignalStopsRun) sees the run has started.
func TestWriterHeaderAtOnce(t *testing.T) {
	for _, f := range []Format{JSONL, CSV} {
		var got bytes.Buffer
		if _, err := NewWriter(&got, f, &Header{Algo: "pdq"}); err != nil {
			t.Fatal(err)
		}
		d, err := Scan(bytes.NewReader(got.Bytes()), f)
		if err != nil {
			t.Fatalf("format %v: %q: %v", f, got.String(), err)
		}
		if d.Header == nil || d.Header.Algo != "pdq" || d.Records != 0 || d.Valid != int64(got.Len()) {
			t.Fatalf("format %v: %q scans as %+v", f, got.String(), d)
		}
	}
}

// A record written while nothing follows (the run waits on a slow list)
// still reaches the file, FlushEvery later, without another Write or Flush.
func TestWriterFlushesIdle(t *testing.T) {
	var mu sync.Mutex
	var got bytes.Buffer
	w, err := NewWriter(writerFunc(func(b []byte) { mu.Lock(); got.Write(b); mu.Unlock() }), JSONL, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.FlushEvery = 10 * time.Millisecond
	for i := range 3 {
		path := fmt.Sprintf("p%d", i)
		if err := w.Write(Record{Path: path, Hash: "0123456789abcdef01234567"}); err != nil {
			t.Fatal(err)
		}
		// The deadline only turns a hang into a failure.
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			done := strings.Contains(got.String(), `"path":"`+path+`"`)
			mu.Unlock()
			if done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("record %d not flushed a minute after its Write", i)
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(got.String(), "\n"); n != 3 {
		t.Fatalf("%d lines, want 3:\n%s", n, got.String())
	}
}

// A flush that fails, the timer's included, fails every later call: the
// caller learns that records were lost.
func TestWriterKeepsFlushError(t *testing.T) {
	broken := errors.New("disk gone")
	w, err := NewWriter(failWriter{broken}, JSONL, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.FlushEvery = time.Hour
	if err := w.Write(Record{Path: "a"}); err != nil {
		t.Fatal(err) // buffered: the failure is not known yet
	}
	w.flushLater() // the timer fires
	if err := w.Write(Record{Path: "b"}); !errors.Is(err, broken) {
		t.Fatalf("Write after the timer's flush failed: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, broken) {
		t.Fatalf("Flush after the timer's flush failed: %v", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }

func FuzzScan(f *testing.F) {
	f.Add([]byte(testHeader1+`{"path":"a","hash":"0123456789abcdef01234567"}`+"\n"), false)
	f.Add([]byte("# "+testHeader1+"path,hash,width,height,quality,error\na,00,1,1,,\n\"b\nc\",00,1,1,,\n"), true)
	f.Add([]byte(testHeader1+`{"path":"\ufffd","path_base64":"/w==","hash":"00"}`+"\n"), false)
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

// Issue 11 item 7: a file of another algorithm, model or settings is not
// resumed; an existing file is not overwritten without force.
func TestResumeRefusesMismatch(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.jsonl")
	if err := os.WriteFile(p, []byte(testHeader1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, h := range []Header{
		{Algo: "pdq"},
		{Algo: "neuralhash", Model: "default", ModelDigest: "sha256:01", Settings: "exact=false"},
		{Algo: "neuralhash", Model: "default", ModelDigest: "sha256:00", Settings: "exact=true"},
	} {
		if _, _, err := OpenForResume(p, JSONL, h); !errors.Is(err, ErrMismatch) {
			t.Errorf("resume with %s: %v, want ErrMismatch", h, err)
		}
	}
	// A file without a header (an older version's) is not resumed either.
	old := filepath.Join(dir, "old.jsonl")
	os.WriteFile(old, []byte(`{"path":"a.jpg","hash":"0123456789abcdef01234567"}`+"\n"), 0o644)
	if _, _, err := OpenForResume(old, JSONL, testHeader); err == nil || !strings.Contains(err.Error(), "no header") {
		t.Errorf("resume of a file without header: %v", err)
	}
	if _, err := Create(p, false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("Create over an existing file: %v", err)
	}
	f, err := Create(p, true)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if st, _ := os.Stat(p); st.Size() != 0 {
		t.Errorf("Create with force left %d bytes", st.Size())
	}
}

// Paths that are not UTF-8 survive JSON Lines; paths with newlines survive
// CSV; the same file named two ways is one key.
func TestPathsLossless(t *testing.T) {
	paths := []string{"a\xff.jpg", "a\xfe.jpg", "new\nline.jpg", "comma,\"quote\".jpg", "ok.jpg"}
	for _, f := range []Format{JSONL, CSV} {
		var buf bytes.Buffer
		w, _ := NewWriter(&buf, f, &testHeader)
		for _, p := range paths {
			w.Write(Record{Path: p, Hash: "0123456789abcdef01234567"})
		}
		w.Flush()
		// A torn copy of the last record must not count.
		torn := buf.String() + strings.Split(buf.String(), "\n")[2][:5]
		d, err := Scan(strings.NewReader(torn), f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.Records != len(paths) || len(d.Hashed) != len(paths) || d.Valid != int64(buf.Len()) {
			t.Fatalf("%s: %d records, %d hashed, valid %d of %d", f, d.Records, len(d.Hashed), d.Valid, buf.Len())
		}
		for _, p := range paths {
			if !d.Hashed[Canonical(p)] {
				t.Errorf("%s: %q not found after a round trip", f, p)
			}
		}
	}
	wd, _ := os.Getwd()
	if Canonical("x/../a.jpg") != Canonical(filepath.Join(wd, "a.jpg")) || Canonical("./a.jpg") != Canonical("a.jpg") {
		t.Error("Canonical does not make one key of one file")
	}
}
