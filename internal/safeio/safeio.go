// Package safeio opens and reads the files a user names as inputs without
// letting one of them hang or exhaust the process: only regular files are
// read (a FIFO, a device such as /dev/zero or a symlink to one is refused
// before any byte is read, and the open itself cannot block), the size is
// checked before reading, and reads stop at a cap even if the file grows.
package safeio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

var (
	// ErrNotRegular is returned (wrapped, naming the file and its type) for
	// an input that is not a regular file.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge is returned (wrapped, naming the file) for an input larger
	// than the cap its reader allows.
	ErrTooLarge = errors.New("file too large")
)

// File is a regular file opened for reading whose reads fail with
// ErrTooLarge past the cap it was opened with.
type File struct {
	lim  limited[*os.File] // the file, its name and its cap
	size int64             // at open
	mode fs.FileMode
}

// Open opens name for reading if it is a regular file (after following
// symlinks) of at most max bytes. The open is non-blocking, so a FIFO
// without a writer is refused rather than waited on.
func Open(name string, max int64) (*File, error) {
	f, err := openNonblock(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := checkRegular(name, st, max); err != nil {
		f.Close()
		return nil, err
	}
	return &File{lim: limited[*os.File]{r: f, name: name, left: max + 1, max: max}, size: st.Size(), mode: st.Mode()}, nil
}

func checkRegular(name string, st fs.FileInfo, max int64) error {
	m := st.Mode()
	if !m.IsRegular() {
		return fmt.Errorf("%s: %w (%s)", name, ErrNotRegular, kind(m))
	}
	if st.Size() > max {
		return fmt.Errorf("%s: %w: %d bytes (at most %d)", name, ErrTooLarge, st.Size(), max)
	}
	return nil
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "type " + m.Type().String()
}

// Name returns the name the file was opened with.
func (f *File) Name() string { return f.lim.name }

// Size returns the file's size when it was opened.
func (f *File) Size() int64 { return f.size }

// Mode returns the file's mode when it was opened.
func (f *File) Mode() fs.FileMode { return f.mode }

// Read reads from the file; past the cap it fails with ErrTooLarge.
func (f *File) Read(p []byte) (int, error) { return f.lim.Read(p) }

// Close closes the file.
func (f *File) Close() error { return f.lim.r.Close() }

// ReadAll reads the rest of the file into one buffer sized from the file's
// size at open. Unlike io.ReadAll it leaves no stale copy of what it read:
// a buffer outgrown (the file grew) is cleared before it is dropped, and on
// error the partial buffer is cleared, so a secret can be read with it.
func (f *File) ReadAll() ([]byte, error) { return f.readAll(0, nil) }

// ReadFile reads the whole of name, a regular file of at most max bytes.
func ReadFile(name string, max int64) ([]byte, error) {
	f, err := Open(name, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadAll()
}

// OpenStream opens name for streaming input that is read piece by piece
// (a list of paths, a hash list): a regular file, or a FIFO or socket such
// as a shell's process substitution gives. Devices and directories are
// refused. Memory stays bounded because the caller's reader bounds its
// records; the open does not block.
func OpenStream(name string) (*os.File, error) {
	f, err := openNonblock(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	m := st.Mode()
	if !m.IsRegular() && m&(fs.ModeNamedPipe|fs.ModeSocket) == 0 {
		f.Close()
		return nil, fmt.Errorf("%s: %w (%s)", name, ErrNotRegular, kind(m))
	}
	return f, nil
}

// LimitReader returns a reader of r that fails with ErrTooLarge, naming
// name, once more than max bytes have been read.
func LimitReader(r io.Reader, name string, max int64) io.Reader {
	return &limited[io.Reader]{r: r, name: name, left: max + 1, max: max}
}

// limited reads at most max bytes of r, naming name in its error; one byte
// more (left starts at max+1) tells a reader that ends exactly at the cap
// from one that goes on. R is *os.File for a File, which closes it.
type limited[R io.Reader] struct {
	r    R
	name string
	left int64
	max  int64
}

func (l *limited[R]) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, l.err()
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left <= 0 {
		return n - 1, l.err()
	}
	return n, err
}

func (l *limited[R]) err() error {
	return fmt.Errorf("%s: %w: more than %d bytes", l.name, ErrTooLarge, l.max)
}

// ReadFileHead is ReadFile that first reads the first head bytes (fewer if
// the file is shorter) and passes them to check; an error from check is
// returned before the rest is read, so a large file of the wrong kind costs
// no memory.
func ReadFileHead(name string, max int64, head int, check func(head []byte) error) ([]byte, error) {
	f, err := Open(name, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.readAll(head, check)
}

// readAll reads f to its end into one buffer of its size, calling check on
// the first head bytes before reading the rest. See ReadAll on clearing.
func (f *File) readAll(head int, check func([]byte) error) (_ []byte, err error) {
	// One byte more than the size: a file that grew is caught by the cap,
	// one that shrank ends at EOF.
	b := make([]byte, 0, f.size+1)
	defer func() {
		if err != nil {
			clear(b[:cap(b)])
		}
	}()
	checked := check == nil
	for {
		if !checked && (len(b) >= head || int64(len(b)) >= f.size) {
			if err := check(b[:min(len(b), head)]); err != nil {
				return nil, err
			}
			checked = true
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			if !checked {
				if err := check(b[:min(len(b), head)]); err != nil {
					return nil, err
				}
			}
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			// Grow by hand, not by append, to clear the old buffer.
			nb := make([]byte, len(b), 2*cap(b))
			copy(nb, b)
			clear(b)
			b = nb
		}
	}
}

// Caps on the files the CLI reads, in bytes.
const (
	// MaxKeyFile caps key, account, token and root files.
	MaxKeyFile = 1 << 20
	// MaxListFile caps files read whole into memory: hash lists, voucher
	// streams.
	MaxListFile = 4 << 30
	// MaxTableFile caps a PSI table file.
	MaxTableFile = 16 << 30
)

// MaxImageFile caps an image file.
const MaxImageFile = 256 << 20
