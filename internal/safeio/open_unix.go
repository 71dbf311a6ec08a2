//go:build unix

package safeio

import (
	"os"
	"syscall"
)

// openNonblock opens name read-only with O_NONBLOCK, so that opening a FIFO
// returns at once instead of waiting for a writer. Reads of regular files
// ignore the flag.
func openNonblock(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
