package service

import (
	"github.com/vouchsafe/vouchsafe/internal/keyfile"
	"github.com/vouchsafe/vouchsafe/psi"
)

// LoadKeys reads the server key of every table epoch and returns a
// psi.Server holding them, with the rules the CLI applies too
// (keyfile.LoadServer): each file must be a regular file not accessible by
// group or others, within a size cap, with a valid checksum; all epochs
// must share t and s.
func LoadKeys(paths []string) (*psi.Server, error) {
	return keyfile.LoadServer(paths)
}
