//go:build !cgo

package pdq

import "image"

// turboJPEG reports whether JPEG is decoded by libjpeg-turbo in this build
// (with cgo) rather than by image/jpeg.
const turboJPEG = false

// decodeJPEGRef is the libjpeg decoder of builds with cgo; without cgo it
// declines every file.
func decodeJPEGRef([]byte) (image.Image, bool, error) { return nil, false, nil }
