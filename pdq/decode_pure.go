//go:build !cgo

package pdq

// turboJPEG reports whether internal/imgproc decodes JPEG through
// libjpeg-turbo in this build (its TurboJPEG decoder is built with cgo).
const turboJPEG = false
