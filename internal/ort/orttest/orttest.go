// Package orttest decides, for tests, whether ONNX Runtime can run: a plain
// `go test ./...` on a checkout without `make ort` skips what needs it and
// says why, while under CI=true (where `make test` always fetches it first)
// a missing library is a failure, so that CI cannot pass by skipping.
package orttest

import (
	"os"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/ort"
)

// Library returns the ONNX Runtime library FindLibrary finds. It skips tb in
// a build without cgo, and when no library is found, unless $CI is "true",
// where it fails tb instead.
func Library(tb testing.TB) string {
	tb.Helper()
	if !ort.Available {
		tb.Skip("built without cgo: no ONNX Runtime in this build")
	}
	lib, err := ort.FindLibrary("")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("CI=true but ONNX Runtime is missing (make test fetches it): %v", err)
		}
		tb.Skipf("needs ONNX Runtime (run `make ort` or set %s): %v", ort.EnvDir, err)
	}
	return lib
}

// Missing reports why ONNX Runtime cannot run in this test process ("" when
// it can), for callers that pass the answer on (a testscript condition)
// rather than skip. Like Library, it fails tb under CI=true when a cgo
// build finds no library.
func Missing(tb testing.TB) string {
	tb.Helper()
	if !ort.Available {
		return "built without cgo: no ONNX Runtime in this build"
	}
	if _, err := ort.FindLibrary(""); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("CI=true but ONNX Runtime is missing (make test fetches it): %v", err)
		}
		return err.Error()
	}
	return ""
}
