// Package inputs lists the images a command works on: files and folders
// named on the command line, or a list of paths, as iterators for engine.Run.
package inputs

import (
	"bufio"
	"context"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"

	"github.com/vouchsafe/vouchsafe/engine"
)

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

// Walk yields every root that is a file, and every image file below every
// root that is a directory (in lexical order, hidden entries skipped).
// Unreadable entries are yielded with Err set. It stops when the consumer
// stops or ctx is cancelled; *errp, if errp is not nil, receives the error
// that ended the walk early (ctx's).
func Walk(ctx context.Context, roots []string, errp *error) iter.Seq[engine.Input] {
	return func(yield func(engine.Input) bool) {
		stop := false
		send := func(in engine.Input) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !yield(in) {
				stop = true
				return fs.SkipAll
			}
			return nil
		}
		err := walk(roots, send, func() bool { return stop })
		if stop {
			err = nil
		}
		if errp != nil {
			*errp = err
		}
	}
}

func walk(roots []string, send func(engine.Input) error, stopped func() bool) error {
	for _, root := range roots {
		if stopped() {
			return nil
		}
		st, err := os.Stat(root)
		if err != nil {
			if err := send(engine.Input{Path: root, Err: err}); err != nil {
				return err
			}
			continue
		}
		if !st.IsDir() {
			if err := send(engine.Input{Path: root}); err != nil {
				return err
			}
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return send(engine.Input{Path: p, Err: err})
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
			return send(engine.Input{Path: p})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// MaxLine bounds one line of a path list.
const MaxLine = 1 << 20

// ReadList yields one path per line of r (blank lines skipped; a path may
// contain spaces; a trailing carriage return is removed). *errp, if errp is
// not nil, receives the read error that ended the list early.
func ReadList(r io.Reader, errp *error) iter.Seq[engine.Input] {
	return func(yield func(engine.Input) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), MaxLine)
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			if strings.TrimSpace(line) == "" {
				continue
			}
			if !yield(engine.Input{Path: line}) {
				return
			}
		}
		if errp != nil {
			*errp = sc.Err()
		}
	}
}
