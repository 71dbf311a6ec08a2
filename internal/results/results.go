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
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
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
type Record struct {
	Path    string `json:"path"`
	Hash    string `json:"hash,omitempty"`
	Width   int    `json:"width,omitempty"`
	Height  int    `json:"height,omitempty"`
	Quality *int   `json:"quality,omitempty"` // PDQ's quality score, 0..100
	Error   string `json:"error,omitempty"`
}

// csvHeader is the first line of a CSV file.
var csvHeader = []string{"path", "hash", "width", "height", "quality", "error"}

// Writer appends records to a file in whole lines.
type Writer struct {
	w         io.Writer
	format    Format
	buf       bytes.Buffer
	csv       *csv.Writer
	lastFlush time.Time
	// FlushBytes and FlushEvery bound how much is lost when the process dies.
	FlushBytes int
	FlushEvery time.Duration
}

// NewWriter returns a Writer on w. If header is true and the format is CSV, the
// header line is written first.
func NewWriter(w io.Writer, f Format, header bool) (*Writer, error) {
	wr := &Writer{w: w, format: f, FlushBytes: 64 << 10, FlushEvery: 250 * time.Millisecond, lastFlush: time.Now()}
	wr.csv = csv.NewWriter(&wr.buf)
	if f == CSV && header {
		if err := wr.csv.Write(csvHeader); err != nil {
			return nil, err
		}
		wr.csv.Flush()
	}
	return wr, nil
}

// Write adds a record; it reaches the file at the next flush, which happens
// when enough bytes or time have gone by, or on Flush.
func (wr *Writer) Write(r Record) error {
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
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		wr.buf.Write(b)
		wr.buf.WriteByte('\n')
	}
	if wr.buf.Len() >= wr.FlushBytes || time.Since(wr.lastFlush) >= wr.FlushEvery {
		return wr.Flush()
	}
	return nil
}

// Flush writes the buffered lines in one call.
func (wr *Writer) Flush() error {
	wr.lastFlush = time.Now()
	if wr.buf.Len() == 0 {
		return nil
	}
	_, err := wr.w.Write(wr.buf.Bytes())
	wr.buf.Reset()
	return err
}

func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// Done is what an earlier run wrote.
type Done struct {
	Hashed  map[string]bool // paths that have a hash
	Records int             // complete records read
	Valid   int64           // bytes of complete lines; anything after is a torn tail
	Header  bool            // a CSV header was present
}

// Scan reads an output file written by Writer. A final line without its
// newline is a torn write and is not counted; a complete line that does not
// parse is an error naming the line, since the file is then not ours.
func Scan(r io.Reader, f Format) (*Done, error) {
	d := &Done{Hashed: map[string]bool{}}
	br := bufio.NewReaderSize(r, 1<<16)
	line := 0
	for {
		b, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return d, nil // b, if any, is a torn tail
		}
		if err != nil {
			return nil, err
		}
		line++
		rec, isHeader, perr := parseLine(b, f, line == 1)
		if perr != nil {
			return nil, fmt.Errorf("line %d: %w", line, perr)
		}
		d.Valid += int64(len(b))
		if isHeader {
			d.Header = true
			continue
		}
		d.Records++
		if rec.Hash != "" && rec.Error == "" {
			d.Hashed[rec.Path] = true
		}
	}
}

func parseLine(b []byte, f Format, first bool) (Record, bool, error) {
	var r Record
	if f == CSV {
		fields, err := csv.NewReader(bytes.NewReader(b)).Read()
		if err != nil {
			return r, false, err
		}
		if len(fields) != len(csvHeader) {
			return r, false, fmt.Errorf("%d CSV fields, want %d", len(fields), len(csvHeader))
		}
		if first && strings.Join(fields, ",") == strings.Join(csvHeader, ",") {
			return r, true, nil
		}
		r.Path, r.Hash, r.Error = fields[0], fields[1], fields[5]
		return r, false, nil
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, false, err
	}
	if r.Path == "" {
		return r, false, errors.New("record without a path")
	}
	return r, false, nil
}

// OpenForResume opens path for appending after what an earlier run wrote,
// cutting a torn final line. It returns the records already there. A missing
// file is created.
func OpenForResume(path string, f Format) (*os.File, *Done, error) {
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	d, err := Scan(file, f)
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
