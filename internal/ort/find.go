// Package ort loads ONNX Runtime and runs NeuralHash-shaped models on it.
//
// The ONNX Runtime shared library is not linked at build time: it is found at
// run time (see FindLibrary) and loaded once per process.
package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Environment variables that point at the ONNX Runtime library.
const (
	EnvLibrary = "VOUCHSAFE_ORT_LIB" // the library file itself
	EnvDir     = "VOUCHSAFE_ORT_DIR" // a folder holding it (what `make ort` fills)
)

// LibraryName is the file name of the ONNX Runtime shared library on this platform.
func LibraryName() string {
	switch runtime.GOOS {
	case "darwin":
		return "libonnxruntime.dylib"
	case "windows":
		return "onnxruntime.dll"
	}
	return "libonnxruntime.so.1"
}

// ErrNoLibrary is returned (wrapped) when no ONNX Runtime library can be found.
var ErrNoLibrary = errors.New("ONNX Runtime library not found")

// FindLibrary returns the path of the ONNX Runtime shared library. It tries, in
// order: flag (a file or a folder), $VOUCHSAFE_ORT_LIB, $VOUCHSAFE_ORT_DIR, the
// cache folder `make ort` fills (.cache/ort in the working directory or a
// parent of it, or beside the executable's parent), and UserDir, which
// `vouchsafe setup` fills. The error lists every place tried and names the
// command that gets the library.
func FindLibrary(flag string) (string, error) {
	var tried []string
	try := func(p string) (string, bool) {
		if p == "" {
			return "", false
		}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = filepath.Join(p, LibraryName())
		}
		tried = append(tried, p)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			abs, err := filepath.Abs(p)
			if err != nil {
				return p, true
			}
			return abs, true
		}
		return "", false
	}
	// An explicit choice that does not exist is an error, not a reason to look elsewhere.
	for _, explicit := range []struct{ what, p string }{
		{"--ort-lib", flag},
		{"$" + EnvLibrary, os.Getenv(EnvLibrary)},
		{"$" + EnvDir, os.Getenv(EnvDir)},
	} {
		if explicit.p == "" {
			continue
		}
		if p, ok := try(explicit.p); ok {
			return p, nil
		}
		return "", fmt.Errorf("%w: %s names %s, which does not exist; fix the path, or unset it and run `vouchsafe setup` (or `make ort` in a checkout)", ErrNoLibrary, explicit.what, tried[len(tried)-1])
	}
	for _, dir := range candidateDirs() {
		if p, ok := try(dir); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (tried %s): run `vouchsafe setup` (it fetches ONNX Runtime 1.29.0 from the npm registry into %s; `make ort` does the same for a checkout's .cache/ort), or pass --ort-lib PATH, or set %s", ErrNoLibrary, strings.Join(tried, ", "), userDirOr("the user cache folder"), EnvLibrary)
}

// UserDir is the folder `vouchsafe setup` installs ONNX Runtime into and
// FindLibrary searches last: vouchsafe/ort in the user cache folder
// (~/.cache/vouchsafe/ort on Linux).
func UserDir() (string, error) {
	c, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(c, "vouchsafe", "ort"), nil
}

func userDirOr(alt string) string {
	if d, err := UserDir(); err == nil {
		return d
	}
	return alt
}

func candidateDirs() []string {
	var dirs []string
	// .cache/ort in the working directory or any parent: the checkout's cache
	// wherever in the checkout the program runs (tests run in package folders).
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			dirs = append(dirs, filepath.Join(d, ".cache", "ort"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			d := filepath.Dir(exe)
			dirs = append(dirs, filepath.Join(d, ".cache", "ort"), filepath.Join(d, "..", ".cache", "ort"))
		}
	}
	if d, err := UserDir(); err == nil {
		dirs = append(dirs, d)
	}
	return dirs
}
