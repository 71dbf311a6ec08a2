package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/vouchsafe/vouchsafe/internal/hashlist"
	"github.com/vouchsafe/vouchsafe/internal/keyfile"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
	"github.com/vouchsafe/vouchsafe/psi"
)

func init() {
	register(command{name: "db", usage: "build, inspect and verify the blinded hash table (db build|info|verify|second-hash|upgrade-key)", run: runDB})
}

func runDB(env *cliEnv, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, "usage: vouchsafe db build|info|verify|second-hash|upgrade-key [flags] [args]")
		return 2
	}
	switch args[0] {
	case "build":
		return runDBBuild(env, args[1:])
	case "info":
		return runDBInfo(env, args[1:])
	case "verify":
		return runDBVerify(env, args[1:])
	case "second-hash":
		return runDBSecondHash(env, args[1:])
	case "upgrade-key":
		return runDBUpgradeKey(env, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(env.stderr, "usage: vouchsafe db build|info|verify|second-hash|upgrade-key [flags] [args]")
		return 0
	}
	fmt.Fprintf(env.stderr, "vouchsafe db: unknown subcommand %q (want build, info, verify, second-hash or upgrade-key)\n", args[0])
	return 2
}

func runDBBuild(env *cliEnv, args []string) int {
	fs := newFlagSet(env, "db build", "--source NAME:JURISDICTION:FILE ... -o table.vsdb --key server.key")
	var sources listFlag
	fs.Var(&sources, "source", "hash list `NAME:JURISDICTION:FILE` (one hex hash per line or hashing JSON Lines); repeat")
	out := fs.String("o", "", "output table `file`")
	keyPath := fs.String("key", "", "output server key `file` (secret; written with mode 0600)")
	t := fs.Int("t", psi.DefaultParams.T, "threshold t: decryption needs t+1 real matches")
	s := fs.Int("s", psi.DefaultParams.S, "DHF capacity s (largest synthetic count per account)")
	adLen := fs.Int("ad-len", psi.DefaultParams.ADLen, "fixed associated data length in bytes")
	d := fs.Int("d", 2, "cuckoo hash functions (2 or 3)")
	load := fs.Float64("load", 0, "table load n/n' (default 0.45 for d=2, 0.85 for d=3)")
	epoch := fs.Uint64("epoch", 1, "database version")
	minSources := fs.Int("min-sources", psi.DefaultRule.MinSources, "keep hashes supplied by at least this many sources")
	minJuris := fs.Int("min-jurisdictions", psi.DefaultRule.MinJurisdictions, "… from at least this many jurisdictions")
	force := fs.Bool("force", false, "overwrite existing output files")
	rootFile := fs.String("root-file", "", "also write the Merkle root (hex) to `file`, for publishing")
	pos, st, ok := parseInterleaved(fs, args)
	if !ok {
		return st
	}
	if st, ok := missingFlags(env, "db build", fs, "source", "o", "key"); !ok {
		return st
	}
	if len(pos) != 0 {
		fs.Usage()
		return exitUsage
	}
	var srcs []psi.Source
	for _, spec := range sources {
		parts := strings.SplitN(spec, ":", 3)
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return fail(env, "db build", fmt.Errorf("--source %q: want NAME:JURISDICTION:FILE", spec))
		}
		f, err := safeio.Open(parts[2], safeio.MaxListFile)
		if err != nil {
			return fail(env, "db build", err)
		}
		hs, err := hashlist.ReadHashes(f)
		f.Close()
		if err != nil {
			return fail(env, "db build", fmt.Errorf("%s: %v", parts[2], err))
		}
		srcs = append(srcs, psi.Source{Name: parts[0], Jurisdiction: parts[1], Hashes: hs})
	}
	xs, err := psi.Intersect(srcs, psi.Rule{MinSources: *minSources, MinJurisdictions: *minJuris})
	if err != nil {
		return fail(env, "db build", err)
	}
	if !*force {
		for _, p := range []string{*out, *keyPath} {
			if _, err := os.Stat(p); err == nil {
				return fail(env, "db build", fmt.Errorf("%s exists (use --force to overwrite)", p))
			}
		}
	}
	res, err := psi.BuildTable(rand.Reader, xs, psi.TableOptions{
		Params: psi.Params{T: *t, S: *s, ADLen: *adLen}, D: *d, Load: *load, Epoch: *epoch,
	})
	if err != nil {
		return fail(env, "db build", err)
	}
	kb, err := res.Key.MarshalBinary()
	if err != nil {
		return fail(env, "db build", err)
	}
	err = keyfile.WriteSecret(*keyPath, kb)
	clear(kb)
	if err != nil {
		return fail(env, "db build", err)
	}
	if err := safeio.WriteFile(*out, res.Table.Bytes(), 0o644); err != nil {
		return fail(env, "db build", err)
	}
	if *rootFile != "" {
		root := res.Table.Root()
		if err := safeio.WriteFile(*rootFile, []byte(hex.EncodeToString(root[:])+"\n"), 0o644); err != nil {
			return fail(env, "db build", err)
		}
	}
	if len(res.Dropped) > 0 {
		// The hashes themselves are database content and are not printed.
		fmt.Fprintf(env.stderr, "vouchsafe db build: cuckoo insertion dropped %d hashes; they will never match\n", len(res.Dropped))
	}
	fmt.Fprintf(env.stdout, "sources: %d, kept after intersection: %d, inserted: %d, dropped: %d\n",
		len(srcs), len(xs), res.Table.Len(), len(res.Dropped))
	printTableInfo(env, res.Table)
	return 0
}

// tableInfo is db info's JSON form.
type tableInfo struct {
	File            string  `json:"file,omitempty"`
	Bytes           int     `json:"bytes"`
	Suite           int     `json:"suite"`
	Epoch           uint64  `json:"epoch"`
	D               int     `json:"d"`
	Elements        uint64  `json:"elements"`
	Slots           uint64  `json:"slots"`
	Load            float64 `json:"load"`
	Threshold       int     `json:"threshold"`
	RequiredMatches int     `json:"required_matches"`
	DHFCapacity     int     `json:"dhf_capacity"`
	ADLen           int     `json:"ad_len"`
	VoucherBytes    int     `json:"voucher_bytes"`
	Root            string  `json:"root"`
	DBID            string  `json:"db_id"`
	FileDigest      string  `json:"file_digest"`
}

func infoOf(t *psi.Table) tableInfo {
	root, dig := t.Root(), t.FileDigest()
	p := t.Params()
	return tableInfo{
		Bytes: len(t.Bytes()), Suite: psi.Suite, Epoch: t.Epoch(), D: t.D(), Elements: t.Len(), Slots: t.Slots(),
		Load: t.Load(), Threshold: p.T, RequiredMatches: p.RequiredMatches(), DHFCapacity: p.S, ADLen: p.ADLen,
		VoucherBytes: p.VoucherSize(t.D()), Root: hex.EncodeToString(root[:]), DBID: t.DBID().String(),
		FileDigest: hex.EncodeToString(dig[:]),
	}
}

func printTableInfo(env *cliEnv, t *psi.Table) {
	in := infoOf(t)
	fmt.Fprintf(env.stdout, "size:        %d bytes (%d slots of 33 bytes, header %d)\n", in.Bytes, in.Slots, t.HeaderSize())
	fmt.Fprintf(env.stdout, "elements:    %d (load %.3f, d=%d, epoch %d)\n", in.Elements, in.Load, in.D, in.Epoch)
	fmt.Fprintf(env.stdout, "threshold:   t=%d (decryption needs %d real matches), s=%d, ad_len=%d, voucher %d bytes\n",
		in.Threshold, in.RequiredMatches, in.DHFCapacity, in.ADLen, in.VoucherBytes)
	fmt.Fprintf(env.stdout, "root:        %s\n", in.Root)
	fmt.Fprintf(env.stdout, "db_id:       %s\n", in.DBID)
	fmt.Fprintf(env.stdout, "file_digest: %s\n", in.FileDigest)
}

func readTable(path string) (*psi.Table, error) {
	raw, err := safeio.ReadFileHead(path, safeio.MaxTableFile, 8, checkTableHead(path))
	if err != nil {
		return nil, err
	}
	t, err := psi.ParseTable(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func runDBInfo(env *cliEnv, args []string) int {
	fs := newFlagSet(env, "db info", "[--json] table.vsdb")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, st, ok := parseInterleaved(fs, args)
	if !ok {
		return st
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	t, err := readTable(pos[0])
	if err != nil {
		return fail(env, "db info", err)
	}
	if *asJSON {
		in := infoOf(t)
		in.File = pos[0]
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(in); err != nil {
			return fail(env, "db info", err)
		}
		return 0
	}
	printTableInfo(env, t)
	return 0
}

// runDBUpgradeKey converts a server key file of format version 1 (no
// checksum) to the current format, checked against the table it built.
func runDBUpgradeKey(env *cliEnv, args []string) int {
	fs := newFlagSet(env, "db upgrade-key", "--table table.vsdb OLD.key -o NEW.key")
	table := fs.String("table", "", "the blinded table `file` the key built (its db_id and L are checked)")
	out := fs.String("o", "", "output server key `file` (secret; written with mode 0600)")
	pos, st, ok := parseInterleaved(fs, args)
	if !ok {
		return st
	}
	if len(pos) != 1 || *table == "" || *out == "" {
		fs.Usage()
		return 2
	}
	t, err := readTable(*table)
	if err != nil {
		return fail(env, "db upgrade-key", err)
	}
	old, err := keyfile.ReadSecret(pos[0], keyfile.MaxServerKey)
	if err != nil {
		return fail(env, "db upgrade-key", err)
	}
	nb, err := psi.UpgradeServerKey(old)
	clear(old)
	if err != nil {
		return fail(env, "db upgrade-key", fmt.Errorf("%s: %w", pos[0], err))
	}
	defer clear(nb)
	var k psi.ServerKey
	if err := k.UnmarshalBinary(nb); err != nil {
		return fail(env, "db upgrade-key", err)
	}
	if err := k.CheckTable(t); err != nil {
		return fail(env, "db upgrade-key", fmt.Errorf("%s: %w", pos[0], err))
	}
	if err := keyfile.WriteSecret(*out, nb); err != nil {
		return fail(env, "db upgrade-key", err)
	}
	fmt.Fprintf(env.stdout, "server key for db_id %s written to %s\n", k.DBID(), *out)
	return 0
}

func runDBVerify(env *cliEnv, args []string) int {
	fs := newFlagSet(env, "db verify", "table.vsdb ROOT (64 hex digits, or a file holding them)")
	pos, st, ok := parseInterleaved(fs, args)
	if !ok {
		return st
	}
	if len(pos) != 2 {
		fs.Usage()
		return 2
	}
	root, err := parseRoot(pos[1])
	if err != nil {
		return fail(env, "db verify", err)
	}
	t, err := readTable(pos[0])
	if err != nil {
		return fail(env, "db verify", err)
	}
	if err := t.Verify(root); err != nil {
		return fail(env, "db verify", err)
	}
	if err := t.Validate(0); err != nil {
		return fail(env, "db verify", err)
	}
	fmt.Fprintf(env.stdout, "OK %s: root %x, %d slots, every point valid and distinct\n", pos[0], root, t.Slots())
	return 0
}

// parseRoot reads a root hash given as 64 hex digits or as the path of a
// file holding them.
func parseRoot(s string) ([32]byte, error) {
	var root [32]byte
	if len(s) != 64 {
		if b, err := safeio.ReadFile(s, safeio.MaxKeyFile); err == nil {
			s = strings.TrimSpace(string(b))
		}
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return root, errors.New("root hash must be 64 hex digits")
	}
	copy(root[:], b)
	return root, nil
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments (`voucher lib.jsonl -o out`), returning the
// positional ones. A lone "--" ends flag parsing.
func parseInterleaved(fs *flag.FlagSet, args []string) (pos []string, status int, ok bool) {
	for {
		if st, ok := parseFlags(fs, args); !ok {
			return nil, st, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
