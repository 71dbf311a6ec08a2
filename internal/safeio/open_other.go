//go:build !unix

package safeio

import "os"

// openNonblock opens name read-only; systems without FIFOs cannot block on
// open.
func openNonblock(name string) (*os.File, error) { return os.Open(name) }
