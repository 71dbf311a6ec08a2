//go:build !unix

package keyfile

import "errors"

// ErrLocked is returned by Lock when another process holds the lock.
var ErrLocked = errors.New("in use by another vouchsafe process")

// Lock is not supported on this system: it refuses, so that no two
// writers can ever share an account file unnoticed.
func Lock(path string) (unlock func() error, err error) {
	return nil, errors.New("locking account files is not supported on this system")
}
