package engine

import (
	"bufio"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Input is one image to hash: a file, or encoded bytes already in memory
// (Data; Path then only names it in records and errors). Err is set when the
// file could not even be listed; the pipeline records it as a failure.
type Input struct {
	Path string
	Data []byte
	Err  error
}

// imageExts are the extensions picked up when walking a directory. Files named
// directly are always attempted, whatever their name.
var imageExts = map[string]bool{
	".jpg": true, ".jpeg": true, ".jpe": true, ".jfif": true, ".png": true, ".gif": true,
	".bmp": true, ".tif": true, ".tiff": true, ".webp": true,
}

// IsImageName reports whether a directory walk picks up a file of this name.
func IsImageName(name string) bool {
	return !strings.HasPrefix(filepath.Base(name), ".") && imageExts[strings.ToLower(filepath.Ext(name))]
}

// Walk sends every root that is a file, and every image file below every root
// that is a directory (in lexical order, hidden entries skipped), to out.
// Unreadable entries are sent with Err set. It returns when done or when ctx
// is cancelled; it does not close out.
func Walk(ctx context.Context, roots []string, out chan<- Input) error {
	send := func(in Input) error {
		select {
		case out <- in:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, root := range roots {
		st, err := os.Stat(root)
		if err != nil {
			if err := send(Input{Path: root, Err: err}); err != nil {
				return err
			}
			continue
		}
		if !st.IsDir() {
			if err := send(Input{Path: root}); err != nil {
				return err
			}
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return send(Input{Path: p, Err: err})
			}
			if p != root && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || !IsImageName(p) {
				return nil
			}
			if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			return send(Input{Path: p})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadList sends one path per line of r (blank lines skipped; a path may
// contain spaces; a trailing carriage return is removed).
func ReadList(ctx context.Context, r io.Reader, out chan<- Input) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		select {
		case out <- Input{Path: line}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return sc.Err()
}
