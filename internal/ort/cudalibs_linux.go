//go:build cgo && linux

package ort

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// vs_dlopen loads path with RTLD_NOW|RTLD_GLOBAL and returns NULL on success,
// else dlerror's message (read on the same thread as the failed dlopen).
static const char *vs_dlopen(const char *path) {
	void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	if (h != NULL) {
		return NULL;
	}
	const char *e = dlerror();
	return e != NULL ? e : "dlopen failed";
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// dlopenGlobal loads a shared library (a bare soname searches the default
// loader path) so that its symbols serve libraries loaded later. The library
// stays loaded for the life of the process.
func dlopenGlobal(path string) error {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	if e := C.vs_dlopen(cs); e != nil {
		return errors.New(C.GoString(e))
	}
	return nil
}
