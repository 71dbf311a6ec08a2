// Package keyfile reads and writes the secret files of the PSI protocol,
// the server's epoch keys and the client's account, with one set of rules
// for the command-line tools and the reconstructor service:
//
//   - a secret file must be a regular file that neither group nor others
//     may access (mode 0600 or stricter), checked on the open descriptor,
//     which is opened without blocking so that a FIFO cannot hang a run;
//   - it is read with a size cap, never whole whatever its size;
//   - the buffer holding the encoding is zeroed once it has been decoded;
//   - the formats carry a checksum (psi.ErrChecksum), so a flipped bit is
//     an error naming the file, never a different key;
//   - writes are atomic (temporary file, fsync, rename) with mode 0600;
//   - an account file is written by one process at a time (Lock).
package keyfile

import (
	"errors"
	"fmt"

	"github.com/vouchsafe/vouchsafe/internal/safeio"
	"github.com/vouchsafe/vouchsafe/psi"
)

// MaxServerKey bounds a server key file.
const MaxServerKey = 4 << 10

// MaxAccount bounds an account file (a seed, at most psi.MaxSyntheticIDs
// ids and a label: about 8 KB).
const MaxAccount = 16 << 10

// ReadSecret reads a secret file of at most max bytes (see the package
// documentation for the rules). The caller should clear the result once
// it has decoded it.
func ReadSecret(path string, max int64) ([]byte, error) {
	f, err := safeio.Open(path, max) // regular file, non-blocking open, size cap
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if m := f.Mode().Perm(); m&0o077 != 0 {
		return nil, fmt.Errorf("%s: secret file is accessible by group or others (mode %04o); chmod 600 it", path, m)
	}
	// Sized, and cleared on error: io.ReadAll's appends would leave
	// unzeroed copies of the secret behind.
	return f.ReadAll()
}

// LoadServerKey reads one epoch's server key.
func LoadServerKey(path string) (*psi.ServerKey, error) {
	b, err := ReadSecret(path, MaxServerKey)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	k := new(psi.ServerKey)
	if err := k.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadServer reads the server key of every table epoch and returns a
// psi.Server holding them; all epochs must share t and s.
func LoadServer(paths []string) (*psi.Server, error) {
	if len(paths) == 0 {
		return nil, errors.New("no server key")
	}
	srv, err := psi.NewServer()
	if err != nil {
		return nil, err
	}
	for _, path := range paths {
		k, err := LoadServerKey(path)
		if err != nil {
			return nil, err
		}
		if err := srv.AddKey(k); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		// Every epoch counts toward one threshold: t and s must agree.
		if _, err := srv.Params(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return srv, nil
}

// LoadAccount reads an account file.
func LoadAccount(path string) (*psi.Account, error) {
	b, err := ReadSecret(path, MaxAccount)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	a := new(psi.Account)
	if err := a.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// WriteSecret writes data to path atomically with mode 0600: a temporary
// file in the same directory, fsync, rename, fsync of the directory. A
// crash leaves either the old file or the new one.
func WriteSecret(path string, data []byte) error {
	return safeio.WriteFile(path, data, 0o600)
}

// SaveAccount writes an account file (see WriteSecret).
func SaveAccount(path string, a *psi.Account) error {
	b, err := a.MarshalBinary()
	if err != nil {
		return err
	}
	defer clear(b)
	return WriteSecret(path, b)
}
