//go:build (!amd64 && !arm64 && !ppc64le && !s390x) || purego

package p256

import "filippo.io/nistec"

// nistec's generic P256Point holds pointers to projective coordinates:
// CompressBatch takes the per-point path.

type jacobian struct{ x, y, z fe }

func layoutMatches() bool { return false }

func jacobianOf(p *nistec.P256Point) *jacobian { panic("p256: no Jacobian view of nistec points") }
