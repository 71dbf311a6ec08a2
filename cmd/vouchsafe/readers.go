package main

import (
	"errors"
	"fmt"

	"github.com/vouchsafe/vouchsafe/psi"
)

// checkTableHead refuses a file whose first 8 bytes are not a table header
// of this format before the rest of it is read: a huge file of the wrong
// kind must not be loaded into memory first.
func checkTableHead(path string) func([]byte) error {
	return func(head []byte) error {
		if len(head) < 8 {
			return nil // ParseTable reports the short file
		}
		_, err := psi.ParseTable(head)
		if errors.Is(err, psi.ErrMagic) || errors.Is(err, psi.ErrVersion) || errors.Is(err, psi.ErrSuite) {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	}
}
