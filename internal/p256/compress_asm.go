//go:build (amd64 || arm64 || ppc64le || s390x) && !purego

package p256

import (
	"unsafe"

	"filippo.io/nistec"
)

// jacobian is the layout of nistec's P256Point in its assembly builds (the
// build constraint above is nistec's): Jacobian (X:Y:Z), x = X/Z², y = Y/Z³,
// each coordinate in Montgomery form with R = 2^256, four little-endian
// 64-bit limbs, fully reduced, exactly like fe. fastCompressOK checks it
// before CompressBatch relies on it.
type jacobian struct{ x, y, z fe }

func layoutMatches() bool {
	return unsafe.Sizeof(nistec.P256Point{}) == unsafe.Sizeof(jacobian{})
}

func jacobianOf(p *nistec.P256Point) *jacobian {
	return (*jacobian)(unsafe.Pointer(p))
}
