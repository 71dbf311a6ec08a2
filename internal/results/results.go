// Package results writes hash records as JSON Lines or CSV, crash-safely, and
// reads back what an earlier run wrote so that run can resume.
//
// Records are written only as whole lines, each batch of lines in one write
// call, so a run killed at any moment leaves complete records followed at
// worst by one torn line; Scan reports the length of the valid prefix and a
// resuming run cuts the torn tail before appending.
package results

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Format is an output format.
type Format string

// The output formats.
const (
	JSONL Format = "jsonl"
	CSV   Format = "csv"
)

// ParseFormat validates a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case JSONL, CSV:
		return f, nil
	case "json":
		return JSONL, nil
	}
	return "", fmt.Errorf("unknown output format %q (want jsonl or csv)", s)
}

// Record is one output line. Exactly one of Hash and Error is non-empty.
//
// JSON strings hold only UTF-8, so a path that is not valid UTF-8 is written
// with its invalid bytes replaced (for reading) and, exactly, in base64 as
// path_base64, which Scan prefers: two distinct names never collapse.
type Record struct {
	Path    string `json:"path"`
	PathB64 string `json:"path_base64,omitempty"` // set by Write, read by Scan
	Hash    string `json:"hash,omitempty"`
	Width   int    `json:"width,omitempty"`
	Height  int    `json:"height,omitempty"`
	Quality *int   `json:"quality,omitempty"` // PDQ's quality score, 0..100
	Error   string `json:"error,omitempty"`
}

// Header names what produced an output file: a resumed run must use the
// same algorithm, model and settings, or its records would mix two hashes.
// It is the first line of the file: a JSON object in JSON Lines, a
// "#"-comment holding the same JSON before the column names in CSV.
type Header struct {
	Vouchsafe int    `json:"vouchsafe"` // format version, 1
	Algo      string `json:"algo"`      // "neuralhash" or "pdq"
	Model     string `json:"model,omitempty"`
	// ModelDigest is "sha256:" and the hex SHA-256 of the model and seed.
	ModelDigest string `json:"model_digest,omitempty"`
	// Settings lists what else changes the hashes ("exact=false ...").
	Settings string `json:"settings,omitempty"`
}

// ErrMismatch is returned (wrapped, with both headers) when a file to
// resume was written by another algorithm, model or settings.
var ErrMismatch = errors.New("output file was written with other settings")

func (h Header) String() string {
	b, _ := json.Marshal(h)
	return string(b)
}

// csvHeader is the column line of a CSV file.
var csvHeader = []string{"path", "hash", "width", "height", "quality", "error"}

// Writer appends records to a file in whole lines. A record reaches the
// file within FlushEvery of its Write even when no other record follows (a
// run waiting on a slow input list), so a killed run loses at most that.
type Writer struct {
	mu     sync.Mutex // the timer's flush runs on its own goroutine
	w      io.Writer
	format Format
	buf    bytes.Buffer
	csv    *csv.Writer
	timer  *time.Timer // a flush to come, if not nil
	err    error       // the first failed flush; later calls return it
	// FlushBytes and FlushEvery bound how much is lost when the process dies.
	// Set them before the first Write.
	FlushBytes int
	FlushEvery time.Duration
}

// NewWriter returns a Writer on w. If hdr is not nil, the header line (and,
// for CSV, the column names) is written to w before NewWriter returns.
func NewWriter(w io.Writer, f Format, hdr *Header) (*Writer, error) {
	wr := &Writer{w: w, format: f, FlushBytes: 64 << 10, FlushEvery: 250 * time.Millisecond}
	wr.csv = csv.NewWriter(&wr.buf)
	if hdr != nil {
		h := *hdr
		h.Vouchsafe = 1
		if f == CSV {
			wr.buf.WriteString("# ")
		}
		wr.buf.WriteString(h.String())
		wr.buf.WriteByte('\n')
		if f == CSV {
			if err := wr.csv.Write(csvHeader); err != nil {
				return nil, err
			}
			wr.csv.Flush()
		}
		// The header goes out at once: a reader of the stream learns what
		// it holds (and that the run has started) before the first record.
		if err := wr.flush(); err != nil {
			return nil, err
		}
	}
	return wr, nil
}

// Write adds a record; it reaches the file at the next flush, which happens
// once FlushBytes are buffered, FlushEvery after the first buffered record
// (the timer), or on Flush.
func (wr *Writer) Write(r Record) error {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	if wr.err != nil {
		return wr.err
	}
	switch wr.format {
	case CSV:
		q := ""
		if r.Quality != nil {
			q = strconv.Itoa(*r.Quality)
		}
		w, h := "", ""
		if r.Hash != "" {
			w, h = strconv.Itoa(r.Width), strconv.Itoa(r.Height)
		}
		if err := wr.csv.Write([]string{r.Path, r.Hash, w, h, q, oneLine(r.Error)}); err != nil {
			return err
		}
		wr.csv.Flush()
		if err := wr.csv.Error(); err != nil {
			return err
		}
	default:
		r.Error = oneLine(r.Error)
		r.PathB64 = ""
		if !utf8.ValidString(r.Path) {
			r.PathB64 = base64.StdEncoding.EncodeToString([]byte(r.Path))
			r.Path = strings.ToValidUTF8(r.Path, "\uFFFD")
		}
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		wr.buf.Write(b)
		wr.buf.WriteByte('\n')
	}
	if wr.buf.Len() >= wr.FlushBytes {
		return wr.flush()
	}
	if wr.timer == nil {
		wr.timer = time.AfterFunc(wr.FlushEvery, wr.flushLater)
	}
	return nil
}

// flushLater is the timer's flush. A stale one (its timer was stopped too
// late, or replaced) only flushes early, which is harmless; what matters is
// that a non-nil wr.timer always has a flush still to run.
func (wr *Writer) flushLater() {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	wr.timer = nil
	if wr.err == nil {
		wr.flush()
	}
}

// Flush writes the buffered lines in one call. It returns the error of any
// earlier flush that failed.
func (wr *Writer) Flush() error {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	if wr.timer != nil {
		wr.timer.Stop()
		wr.timer = nil
	}
	if wr.err != nil {
		return wr.err
	}
	return wr.flush()
}

// flush writes the buffer; wr.mu is held (or wr not yet shared).
func (wr *Writer) flush() error {
	if wr.buf.Len() == 0 {
		return nil
	}
	_, err := wr.w.Write(wr.buf.Bytes())
	wr.buf.Reset()
	if err != nil {
		wr.err = err
	}
	return err
}

func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// Done is what an earlier run wrote.
type Done struct {
	// Hashed holds the canonical form (Canonical) of every path with a hash.
	Hashed  map[string]bool
	Records int     // complete records read
	Valid   int64   // bytes of complete lines; anything after is a torn tail
	Header  *Header // the file's header line; nil for an empty file
}

// Canonical is the form of a path that resume compares: absolute and
// cleaned, so the same file named as "lib/a.jpg", "./lib/a.jpg" or
// "/home/u/lib/a.jpg" is hashed once. Relative paths are taken against the
// current directory.
func Canonical(path string) string {
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return filepath.Clean(path)
}

// Scan reads an output file written by Writer. A final line without its
// newline is a torn write and is not counted; a complete line that does not
// parse is an error naming the line, since the file is then not ours. A
// non-empty file must start with a header line.
func Scan(r io.Reader, f Format) (*Done, error) {
	d := &Done{Hashed: map[string]bool{}}
	br := bufio.NewReaderSize(r, 1<<16)
	line := 0
	var rec []byte
	for {
		b, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return d, nil // rec and b, if any, are a torn tail
		}
		if err != nil {
			return nil, err
		}
		line++
		if d.Header == nil {
			h, perr := parseHeader(b, f)
			if perr != nil {
				return nil, fmt.Errorf("line %d: %w", line, perr)
			}
			d.Header = h
			d.Valid += int64(len(b))
			continue
		}
		rec = append(rec, b...)
		// A quoted CSV field may hold newlines: the record goes on until
		// its quotes balance ("" inside a field keeps the count even).
		if f == CSV && bytes.Count(rec, []byte{'"'})%2 == 1 {
			continue
		}
		n := len(rec)
		r, isHeader, perr := parseLine(rec, f)
		rec = rec[:0]
		if perr != nil {
			return nil, fmt.Errorf("line %d: %w", line, perr)
		}
		d.Valid += int64(n)
		if isHeader {
			continue
		}
		d.Records++
		if r.Hash != "" && r.Error == "" {
			d.Hashed[Canonical(r.Path)] = true
		}
	}
}

func parseHeader(b []byte, f Format) (*Header, error) {
	b = bytes.TrimSuffix(b, []byte("\n"))
	if f == CSV {
		var ok bool
		if b, ok = bytes.CutPrefix(b, []byte("# ")); !ok {
			return nil, errors.New("no header line (written by an older vouchsafe, or not by vouchsafe hash)")
		}
	}
	var h Header
	if err := json.Unmarshal(b, &h); err != nil || h.Vouchsafe == 0 || h.Algo == "" {
		return nil, errors.New("no header line (written by an older vouchsafe, or not by vouchsafe hash)")
	}
	if h.Vouchsafe != 1 {
		return nil, fmt.Errorf("header of format version %d, want 1", h.Vouchsafe)
	}
	return &h, nil
}

func parseLine(b []byte, f Format) (Record, bool, error) {
	var r Record
	if f == CSV {
		fields, err := csv.NewReader(bytes.NewReader(b)).Read()
		if err != nil {
			return r, false, err
		}
		if len(fields) != len(csvHeader) {
			return r, false, fmt.Errorf("%d CSV fields, want %d", len(fields), len(csvHeader))
		}
		if strings.Join(fields, ",") == strings.Join(csvHeader, ",") {
			return r, true, nil
		}
		r.Path, r.Hash, r.Error = fields[0], fields[1], fields[5]
		return r, false, nil
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, false, err
	}
	if r.PathB64 != "" {
		p, err := base64.StdEncoding.DecodeString(r.PathB64)
		if err != nil {
			return r, false, fmt.Errorf("path_base64: %w", err)
		}
		r.Path, r.PathB64 = string(p), ""
	}
	if r.Path == "" {
		return r, false, errors.New("record without a path")
	}
	return r, false, nil
}

// OpenForResume opens path for appending after what an earlier run wrote,
// cutting a torn final line. It returns the records already there. A missing
// or empty file is created and gets hdr written by the caller's Writer
// (Done.Header is then nil); a file whose header differs from hdr is
// refused with ErrMismatch.
func OpenForResume(path string, f Format, hdr Header) (*os.File, *Done, error) {
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	d, err := Scan(file, f)
	if err == nil && d.Header != nil {
		hdr.Vouchsafe = 1
		if *d.Header != hdr {
			err = fmt.Errorf("%w: it has %s, this run %s", ErrMismatch, d.Header, hdr)
		}
	}
	if err != nil {
		file.Close()
		return nil, nil, fmt.Errorf("resume %s: %w", path, err)
	}
	if err := file.Truncate(d.Valid); err != nil {
		file.Close()
		return nil, nil, fmt.Errorf("resume %s: %w", path, err)
	}
	if _, err := file.Seek(d.Valid, io.SeekStart); err != nil {
		file.Close()
		return nil, nil, err
	}
	return file, d, nil
}

// Create creates path for a new run's records. An existing file is refused
// unless force is set (then it is truncated): records of an earlier run are
// never lost by accident.
func Create(path string, force bool) (*os.File, error) {
	flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	file, err := os.OpenFile(path, flag, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s exists: --resume to add to it, --force to overwrite it", path)
	}
	return file, err
}
