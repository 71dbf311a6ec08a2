package main

import (
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/vouchsafe/vouchsafe/internal/ort"
	"github.com/vouchsafe/vouchsafe/internal/ort/orttest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"vouchsafe": main,
	})
}

// TestScripts runs the CLI scripts in testdata/script. Each file is a txtar
// archive: commands, expected output and the input files they use.
// $TESTDATA is the repository's testdata folder (sample photos).
func TestScripts(t *testing.T) {
	td, err := filepath.Abs(filepath.Join("..", "..", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	// Found from here (the checkout's .cache/ort) and handed to the scripts,
	// which run in temporary folders; [ort] tells a script whether it can infer.
	// Under CI=true a cgo build without the library fails here.
	hasORT := orttest.Missing(t) == ""
	ortLib, _ := ort.FindLibrary("")
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("TESTDATA", td)
			if hasORT {
				e.Setenv(ort.EnvLibrary, ortLib)
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "ort":
				return hasORT, nil
			case "model":
				// The default model runs: on ONNX Runtime, or in pure Go
				// in a build without cgo.
				return hasORT || !ort.Available, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// hexfile NAME HEX: write the bytes spelled in hex.
			"hexfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: hexfile NAME HEX")
				}
				b, err := hex.DecodeString(args[1])
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
			},
			// tear FILE N: cut the last N bytes (a run killed mid-write).
			"tear": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: tear FILE N")
				}
				n, err := strconv.Atoi(args[1])
				ts.Check(err)
				b, err := os.ReadFile(ts.MkAbs(args[0]))
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), b[:max(len(b)-n, 0)], 0o644))
			},
			// cphex SRC DIR HEXNAME: copy SRC into DIR under a name given in
			// hex (names that are not UTF-8, or hold a newline).
			"cphex": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: cphex SRC DIR HEXNAME")
				}
				name, err := hex.DecodeString(args[2])
				ts.Check(err)
				b, err := os.ReadFile(ts.MkAbs(args[0]))
				ts.Check(err)
				ts.Check(os.WriteFile(filepath.Join(ts.MkAbs(args[1]), string(name)), b, 0o644))
			},
			// pngbomb NAME SIDE: a small PNG of SIDE² 16-bit RGBA pixels,
			// which costs 8 bytes per pixel to decode.
			"pngbomb": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: pngbomb NAME SIDE")
				}
				n, err := strconv.Atoi(args[1])
				ts.Check(err)
				f, err := os.Create(ts.MkAbs(args[0]))
				ts.Check(err)
				enc := png.Encoder{CompressionLevel: png.BestSpeed}
				ts.Check(enc.Encode(f, image.NewNRGBA64(image.Rect(0, 0, n, n))))
				ts.Check(f.Close())
			},
			// mkfifo NAME: a named pipe that nothing writes to.
			"mkfifo": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: mkfifo NAME")
				}
				ts.Check(mkfifo(ts.MkAbs(args[0])))
			},
			// sparse NAME SIZE: a sparse file of SIZE bytes (holes only).
			"sparse": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: sparse NAME SIZE")
				}
				n, err := strconv.ParseInt(args[1], 10, 64)
				ts.Check(err)
				f, err := os.Create(ts.MkAbs(args[0]))
				ts.Check(err)
				ts.Check(f.Truncate(n))
				ts.Check(f.Close())
			},
			// headcp SRC DST N: copy the first N bytes of SRC (a truncated file).
			"headcp": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: headcp SRC DST N")
				}
				b, err := os.ReadFile(ts.MkAbs(args[0]))
				ts.Check(err)
				n, err := strconv.Atoi(args[2])
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[1]), b[:min(n, len(b))], 0o644))
			},
		},
	})
}
