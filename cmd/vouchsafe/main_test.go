package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"vouchsafe": main,
	})
}

// TestScripts runs the CLI scripts in testdata/script. Each file is a txtar
// archive: commands, expected output and the input files they use.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			// The ORT library location is inherited so scripts can run the engine.
			for _, k := range []string{"VOUCHSAFE_ORT_DIR", "VOUCHSAFE_ORT_LIB"} {
				if v := os.Getenv(k); v != "" {
					e.Setenv(k, v)
				}
			}
			return nil
		},
	})
}
