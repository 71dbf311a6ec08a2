package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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
	params := testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("TESTDATA", td)
			e.Values[gatesKey] = gates{}
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
			// waitfile FILE: wait until FILE exists and is not empty (a
			// server's --addr-file).
			"waitfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: waitfile FILE")
				}
				poll(ts, "file "+args[0], func() bool {
					fi, err := os.Stat(ts.MkAbs(args[0]))
					return err == nil && fi.Size() > 0
				})
			},
			// acked JOURNAL N: the journal records exactly N acknowledgements;
			// an id acknowledged twice counts twice, so a resent voucher
			// shows as one too many.
			"acked": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: acked JOURNAL N")
				}
				b, err := os.ReadFile(ts.MkAbs(args[0]))
				ts.Check(err)
				got, err := ackedIDs(b)
				ts.Check(err)
				if want := args[1]; strconv.Itoa(got) != want {
					ts.Fatalf("%s: %d ids acknowledged, want %s", args[0], got, want)
				}
			},
			// envfile VAR FILE: set $VAR to FILE's content, trimmed.
			"envfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: envfile VAR FILE")
				}
				b, err := os.ReadFile(ts.MkAbs(args[1]))
				ts.Check(err)
				ts.Setenv(args[0], strings.TrimSpace(string(b)))
			},
			// reveal ADDR ACCOUNT TOKENFILE OUT: ask a running serve to
			// reveal ACCOUNT now (POST /v1/accounts/ACCOUNT/reveal) and write
			// the account's JSON view to OUT.
			"reveal": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 4 {
					ts.Fatalf("usage: reveal ADDR ACCOUNT TOKENFILE OUT")
				}
				tok, err := os.ReadFile(ts.MkAbs(args[2]))
				ts.Check(err)
				req, err := http.NewRequest("POST", "http://"+args[0]+"/v1/accounts/"+args[1]+"/reveal", nil)
				ts.Check(err)
				req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
				resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
				ts.Check(err)
				defer resp.Body.Close()
				b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<24))
				ts.Check(err)
				if resp.StatusCode != http.StatusOK {
					ts.Fatalf("reveal %s: %s: %s", args[1], resp.Status, b)
				}
				ts.Check(os.WriteFile(ts.MkAbs(args[3]), b, 0o644))
			},
		},
	}
	maps.Copy(params.Cmds, gateCmds)
	testscript.Run(t, params)
}

// poll waits until cond holds; the deadline only turns a hang into a
// failure.
func poll(ts *testscript.TestScript, what string, cond func() bool) {
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			ts.Fatalf("timed out waiting for %s", what)
		}
	}
}

// ackedIDs counts the ids a voucher journal says the server acknowledged,
// up to its last whole line.
func ackedIDs(journal []byte) (int, error) {
	n := 0
	for _, line := range strings.SplitAfter(string(journal), "\n") {
		if !strings.HasSuffix(line, "\n") {
			break
		}
		var e journalEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return 0, err
		}
		n += len(e.Acked)
	}
	return n, nil
}
