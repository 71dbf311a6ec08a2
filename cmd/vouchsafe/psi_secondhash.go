package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/vouchsafe/vouchsafe/derivative"
	"github.com/vouchsafe/vouchsafe/engine"
	"github.com/vouchsafe/vouchsafe/internal/inputs"
	"github.com/vouchsafe/vouchsafe/internal/keyfile"
	"github.com/vouchsafe/vouchsafe/internal/recon/secondhash"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
	"github.com/vouchsafe/vouchsafe/psi"
)

// runDBSecondHash writes the server's second-hash list: the PDQ hash of the
// visual derivative of every database image, made with the table's
// parameters exactly as a client makes it.
func runDBSecondHash(env *cliEnv, args []string) int {
	fs := newFlagSet(env, "db second-hash", "(--table table.vsdb | --key server.key) -o list.pdq IMAGE|DIR...")
	table := fs.String("table", "", "take the associated-data length from this table `file`")
	key := fs.String("key", "", "or from this server key `file`")
	out := fs.String("o", "", "write the list to `file` (default stdout)")
	pos, st, ok := parseInterleaved(fs, args)
	if !ok {
		return st
	}
	if len(pos) == 0 || (*table == "") == (*key == "") {
		fmt.Fprintln(env.stderr, "vouchsafe db second-hash: give images and exactly one of --table and --key")
		fs.Usage()
		return 2
	}
	var params psi.Params
	if *table != "" {
		t, err := readTable(*table)
		if err != nil {
			return fail(env, "db second-hash", err)
		}
		params = t.Params()
	} else {
		k, err := keyfile.LoadServerKey(*key)
		if err != nil {
			return fail(env, "db second-hash", err)
		}
		params = k.Params()
	}
	enc, err := derivative.NewEncoder()
	if err != nil {
		return fail(env, "db second-hash", err)
	}
	defer enc.Close()

	w := env.stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			return fail(env, "db second-hash", err)
		}
		w = f
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# vouchsafe db second-hash: PDQ hashes of visual derivatives (ad_len=%d); hash,quality,path\n", params.ADLen)

	status, n := 0, 0
	for in := range inputs.Walk(context.Background(), pos, nil) {
		h, q, err := derivativeHashOf(enc, in, params)
		if err != nil {
			fmt.Fprintf(env.stderr, "vouchsafe db second-hash: %s: %v\n", in.Path, err)
			status = 1
			continue
		}
		fmt.Fprintf(bw, "%s,%d,%s\n", h, q, strings.ReplaceAll(in.Path, "\n", " "))
		n++
	}
	if err := bw.Flush(); err != nil {
		return fail(env, "db second-hash", err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fail(env, "db second-hash", err)
		}
	}
	if n == 0 {
		return fail(env, "db second-hash", fmt.Errorf("no image could be hashed"))
	}
	fmt.Fprintf(env.stderr, "vouchsafe db second-hash: %d images\n", n)
	return status
}

func derivativeHashOf(enc *derivative.Encoder, in engine.Input, p psi.Params) (string, int, error) {
	if in.Err != nil {
		return "", 0, in.Err
	}
	b, err := safeio.ReadFile(in.Path, safeio.MaxImageFile)
	if err != nil {
		return "", 0, err
	}
	img, err := decodeDerivativeSource(b)
	if err != nil {
		return "", 0, err
	}
	h, q, err := secondhash.DerivativeHash(enc, img, p)
	if err != nil {
		return "", 0, err
	}
	return h.String(), q, nil
}

// loadSecondHash loads the --second-hash list, with the threshold when one
// was given (≥ 0).
func loadSecondHash(path string, threshold int) (*secondhash.List, error) {
	l, err := secondhash.Load(path)
	if err != nil {
		return nil, err
	}
	if threshold >= 0 {
		return l.WithThreshold(threshold)
	}
	return l, nil
}
