// Package jpeg is the module's one binding to libjpeg-turbo (its libjpeg API,
// linked statically), used by internal/imgproc for the NeuralHash pixels and
// by pdq for Meta's reference decode.
//
// Every call runs on a fresh decompressor, so nothing a corrupt file leaves
// behind can affect the next one. All calls share one error policy:
// libjpeg's errors are returned as *[Error]; its warnings (corrupt data it
// can go on from) are counted, not printed, and not fatal, except a
// premature end of data ([ErrTruncated]); a progressive or multi-scan file
// of more than [Options.MaxScans] scans is refused ([ErrTooManyScans]), so
// that a tiny file cannot cost minutes of CPU.
//
// The package needs cgo; without it, it is empty and its users fall back to
// image/jpeg.
package jpeg
