package safeio

import (
	"os"
	"path/filepath"
)

// WriteFile writes data to name atomically, with mode perm: a temporary
// file in the same directory is written, synced and renamed over name,
// then the directory is synced. A reader sees the old file or the new one,
// never a part, and after a crash one of the two is there.
func WriteFile(name string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, ".vouchsafe-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp made the file 0600, so no byte is ever readable by others;
	// the chmod gives it perm (before the write, so a failed chmod costs
	// nothing).
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: the rename is durable once the directory is
		d.Close()
	}
	return nil
}
