package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // decoders for --images
	_ "image/jpeg" //
	_ "image/png"  //
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	_ "golang.org/x/image/bmp"  //
	_ "golang.org/x/image/tiff" //
	_ "golang.org/x/image/webp" //
	"golang.org/x/sync/errgroup"

	"github.com/vouchsafe/vouchsafe/derivative"
	"github.com/vouchsafe/vouchsafe/internal/hashlist"
	"github.com/vouchsafe/vouchsafe/internal/keyfile"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
	"github.com/vouchsafe/vouchsafe/internal/shard"
	"github.com/vouchsafe/vouchsafe/psi"
)

func init() {
	register(command{name: "voucher", usage: "make safety vouchers for photos (one pass) or hashed images against a blinded table", run: runVoucher})
}

func runVoucher(env *cliEnv, args []string) int {
	fs := newFlagSet(env, "voucher", "--table table.vsdb --account account.key (PHOTOS... | --list FILE) (-o vouchers | --upload URL --token-file F)\n"+
		"       vouchsafe voucher --table table.vsdb --account account.key [--images] HASHES.jsonl -o vouchers")
	tablePath := fs.String("table", "", "blinded table `file`")
	acctPath := fs.String("account", "", "account key `file` (locked for the run; its synthetic set is updated)")
	out := fs.String("o", "", "output voucher stream `file`")
	images := fs.Bool("images", false, "attach a visual derivative of each record's image (path from the JSON Lines)")
	root := fs.String("root", "", "refuse the table unless its Merkle root is this `hex` value")
	validate := fs.Bool("validate", true, "decode and check every table point before use")
	rate := fs.Float64("synthetic-rate", -1, "probability p of a synthetic voucher (default ((c_lo+c_hi)/2)/10^4 from the table's t and s)")
	var po passOptions
	finishEngine := addEngineFlags(fs, &po.engine)
	workers := &po.engine.Workers
	fs.StringVar(&po.list, "list", "", "photos: read input paths from this `file`, one per line ('-' for stdin)")
	fs.BoolVar(&po.resume, "resume", false, "photos: skip inputs with a voucher in the -o file, resend what the server has not acknowledged")
	fs.StringVar(&po.upload, "upload", "", "photos: upload the vouchers to the `URL` of vouchsafe serve (http(s)://host:port)")
	fs.StringVar(&po.account, "upload-account", "", "account `name` in the service (default: the account's label)")
	fs.StringVar(&po.tokenFile, "token-file", "", "`file` holding the ingest token for --upload")
	fs.IntVar(&po.chunk, "chunk", 128, "photos: vouchers made, written and uploaded together")
	fs.StringVar(&po.progress, "progress", "auto", "photos: progress bar on stderr: auto (when it is a terminal), always or never")
	fs.BoolVar(&po.verbose, "v", false, "report the device, model and resume state on stderr")
	shardFlags := shard.Register(fs)
	pos, st, ok := parseInterleaved(fs, args)
	if !ok {
		return st
	}
	sh, err := shardFlags.Spec(os.Getenv)
	if err != nil {
		return usageErr(env, "voucher", err)
	}
	po.shard = sh
	onePass := po.list != "" || len(pos) != 1 || !isHashList(pos[0])
	if st, ok := missingFlags(env, "voucher", fs, "table", "account"); !ok {
		return st
	}
	switch {
	case len(pos) == 0 && po.list == "":
		fs.Usage()
		return exitUsage
	case !onePass && *out == "":
		return usageErr(env, "voucher", errors.New("missing -o FILE"))
	case onePass && *images:
		return usageErr(env, "voucher", errors.New("--images is for a hash list; photos always carry their derivative"))
	case onePass && po.chunk < 1:
		return usageErr(env, "voucher", errors.New("--chunk must be at least 1"))
	}
	if err := finishEngine(); err != nil {
		return usageErr(env, "voucher", err)
	}
	t, err := readTable(*tablePath)
	if err != nil {
		return fail(env, "voucher", err)
	}
	if *root != "" {
		r, err := parseRoot(*root)
		if err != nil {
			return fail(env, "voucher", err)
		}
		if err := t.Verify(r); err != nil {
			return fail(env, "voucher", err)
		}
	}
	if *validate {
		if err := t.Validate(*workers); err != nil {
			return fail(env, "voucher", err)
		}
	}
	// One writer per account file: a second run at the same time is
	// refused, never merged (protocol.md §3.3).
	unlock, err := keyfile.Lock(*acctPath)
	if err != nil {
		return fail(env, "voucher", err)
	}
	defer unlock()
	acct, err := keyfile.LoadAccount(*acctPath)
	if err != nil {
		return fail(env, "voucher", err)
	}
	// Rewrite an account converted from an older format before any voucher;
	// from here on the client saves each new synthetic id as it joins the set.
	if err := keyfile.SaveAccount(*acctPath, acct); err != nil {
		return fail(env, "voucher", err)
	}
	// Each new synthetic id is saved before its voucher exists.
	save := func(b []byte) error { return keyfile.WriteSecret(*acctPath, b) }
	opts := &psi.ClientOptions{SyntheticRate: *rate, Workers: *workers, SaveAccount: save}
	if *rate < 0 {
		opts.SyntheticRate = psi.DefaultSyntheticRate(t.Params())
	}
	if onePass {
		client, err := psi.NewClient(t, acct, opts)
		if err != nil {
			return fail(env, "voucher", err)
		}
		po.out, po.roots = *out, pos
		return runVoucherPass(env, po, t, acct, client)
	}
	in, err := safeio.Open(pos[0], safeio.MaxListFile)
	if err != nil {
		return fail(env, "voucher", err)
	}
	recs, skipped, err := hashlist.ReadHashRecords(in)
	in.Close()
	if err != nil {
		return fail(env, "voucher", fmt.Errorf("%s: %v", pos[0], err))
	}
	if skipped > 0 {
		fmt.Fprintf(env.stderr, "vouchsafe voucher: skipped %d records without a hash\n", skipped)
	}
	recs = slices.DeleteFunc(recs, func(r hashlist.HashRecord) bool { return !po.shard.Has(r.Path) })
	client, err := psi.NewClient(t, acct, opts)
	if err != nil {
		return fail(env, "voucher", err)
	}
	trs := make([]psi.Triple, len(recs))
	for i, rec := range recs {
		h, _ := psi.ParseHash(rec.Hash)
		trs[i] = psi.Triple{Hash: h, ID: acct.DeriveID([]byte(rec.Path + "\x00" + rec.Hash))}
	}
	if *images {
		if err := attachDerivatives(trs, recs, filepath.Dir(pos[0]), t.Params().MaxDerivative(), *workers); err != nil {
			return fail(env, "voucher", err)
		}
	}
	vs, err := client.Vouchers(rand.Reader, trs)
	if err != nil {
		return fail(env, "voucher", err)
	}
	f, err := os.Create(*out)
	if err != nil {
		return fail(env, "voucher", err)
	}
	w, err := psi.NewVoucherWriter(f, acct.Label)
	if err != nil {
		f.Close()
		return fail(env, "voucher", err)
	}
	for _, v := range vs {
		if err := w.Write(v); err != nil {
			f.Close()
			return fail(env, "voucher", err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fail(env, "voucher", err)
	}
	if err := f.Close(); err != nil {
		return fail(env, "voucher", err)
	}
	fmt.Fprintf(env.stdout, "%d vouchers of %d bytes written to %s (table db_id %s)\n",
		len(vs), t.Params().VoucherSize(t.D()), *out, t.DBID())
	return 0
}

// isHashList reports whether the one argument of voucher is a hash list
// (hash's JSON Lines, or bare hashes) rather than a photo or a folder: its
// first line that is not blank or a comment is a JSON object or a hash.
func isHashList(name string) bool {
	// safeio refuses FIFOs and devices without blocking on them.
	f, err := safeio.Open(name, safeio.MaxListFile)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	for _, line := range strings.Split(string(head[:n]), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '{' {
			return true
		}
		_, err := psi.ParseHash(line)
		return err == nil
	}
	return false
}

// attachDerivatives loads each record's image and stores its derivative in
// the triple. Relative paths are tried against the working directory, then
// against the hash list's directory.
func attachDerivatives(trs []psi.Triple, recs []hashlist.HashRecord, listDir string, max, workers int) error {
	enc, err := derivative.NewEncoder()
	if err != nil {
		return err
	}
	defer enc.Close()
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(workers)
	for i := 0; i < len(trs) && ctx.Err() == nil; i++ {
		g.Go(func() error {
			d, err := derivativeOf(enc, recs[i].Path, listDir, max)
			if err != nil {
				return fmt.Errorf("record %d (%q): %w", i+1, recs[i].Path, err)
			}
			trs[i].Derivative = d
			return nil
		})
	}
	return g.Wait()
}

// maxImagePixels bounds the images --images decodes (decompression bombs).
const maxImagePixels = 1 << 28

func derivativeOf(enc *derivative.Encoder, path, listDir string, max int) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("--images needs JSON Lines records with a path")
	}
	b, err := safeio.ReadFile(path, safeio.MaxImageFile)
	if err != nil && !filepath.IsAbs(path) {
		b, err = safeio.ReadFile(filepath.Join(listDir, path), safeio.MaxImageFile)
	}
	if err != nil {
		return nil, err
	}
	img, err := decodeDerivativeSource(b)
	if err != nil {
		return nil, err
	}
	return enc.Encode(img, max)
}

// decodeDerivativeSource decodes an image for a visual derivative. The
// client (voucher --images) and the server's second-hash list (db
// second-hash) decode alike, so that a database image and a client's copy
// of it give the same derivative.
func decodeDerivativeSource(b []byte) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if cfg.Width < 1 || cfg.Height < 1 || int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return nil, fmt.Errorf("image of %d×%d pixels refused (limit %d)", cfg.Width, cfg.Height, maxImagePixels)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return img, nil
}
