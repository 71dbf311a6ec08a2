//go:build unix

package keyfile

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLocked is returned by Lock when another process holds the lock.
var ErrLocked = errors.New("in use by another vouchsafe process")

// Lock takes an exclusive lock on the account file at path, for a process
// that will write it, and returns the function that releases it. The lock
// is an advisory flock(2) on path+".lock", which stays in place (the
// account file itself is replaced by every atomic write, so it cannot
// carry the lock). A second writer is refused with ErrLocked at once
// rather than waiting, and never merged: two runs growing the synthetic
// set at the same time could each decide differently for the same id.
// The kernel drops the lock when the process dies.
func Lock(path string) (unlock func() error, err error) {
	lp := path + ".lock"
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("locking %s: %s is not a regular file", path, lp)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("account file %s: %w (lock %s)", path, ErrLocked, lp)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return f.Close, nil // closing the descriptor releases the flock
}
