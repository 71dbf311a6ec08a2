package service

import (
	"errors"
	"fmt"
	"io"

	"github.com/vouchsafe/vouchsafe/psi"
)

// maxKeyFile bounds a server key file.
const maxKeyFile = 1 << 16

// LoadKeys reads the server key of every table epoch and returns a
// psi.Server holding them. Each file must not be accessible by group or
// others; all epochs must share t and s.
func LoadKeys(paths []string) (*psi.Server, error) {
	if len(paths) == 0 {
		return nil, errors.New("no server key")
	}
	srv, err := psi.NewServer()
	if err != nil {
		return nil, err
	}
	for _, path := range paths {
		f, err := openPrivate(path)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(f, maxKeyFile))
		f.Close()
		if err != nil {
			return nil, err
		}
		k := new(psi.ServerKey)
		err = k.UnmarshalBinary(b)
		clear(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := srv.AddKey(k); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if _, err := srv.Params(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return srv, nil
}
