package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/vouchsafe/vouchsafe/internal/keyfile"
	"github.com/vouchsafe/vouchsafe/psi"
)

func init() {
	register(command{name: "account", usage: "create or inspect a client account key (account new|info)", run: runAccount})
}

func runAccount(env *cliEnv, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, "usage: vouchsafe account new|info [flags] [args]")
		return 2
	}
	switch args[0] {
	case "new":
		return runAccountNew(env, args[1:])
	case "info":
		return runAccountInfo(env, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(env.stderr, "usage: vouchsafe account new|info [flags] [args]")
		return 0
	}
	fmt.Fprintf(env.stderr, "vouchsafe account: unknown subcommand %q (want new or info)\n", args[0])
	return 2
}

func runAccountNew(env *cliEnv, args []string) int {
	fs := newFlagSet(env, "account new", "-o account.key [--label NAME]")
	out := fs.String("o", "", "output account `file` (secret; written with mode 0600)")
	label := fs.String("label", "", "public account name the server files vouchers under: 1-128 of A-Z a-z 0-9 . _ - (default: random)")
	force := fs.Bool("force", false, "overwrite an existing file")
	pos, st, ok := parseInterleaved(fs, args)
	if !ok {
		return st
	}
	if len(pos) != 0 || *out == "" {
		fs.Usage()
		return 2
	}
	// Not while a voucher run holds the account it would replace.
	unlock, err := keyfile.Lock(*out)
	if err != nil {
		return fail(env, "account new", err)
	}
	defer unlock()
	if !*force {
		if _, err := os.Stat(*out); err == nil {
			return fail(env, "account new", fmt.Errorf("%s exists (use --force to overwrite)", *out))
		}
	}
	l := *label
	if l == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fail(env, "account new", err)
		}
		l = "acct-" + hex.EncodeToString(b[:])
	}
	a, err := psi.NewAccount(rand.Reader, l)
	if err != nil {
		return fail(env, "account new", err)
	}
	if err := keyfile.SaveAccount(*out, a); err != nil {
		return fail(env, "account new", err)
	}
	fmt.Fprintf(env.stdout, "account %s written to %s\n", a.Label, *out)
	return 0
}

func runAccountInfo(env *cliEnv, args []string) int {
	fs := newFlagSet(env, "account info", "account.key")
	pos, st, ok := parseInterleaved(fs, args)
	if !ok {
		return st
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	a, err := keyfile.LoadAccount(pos[0])
	if err != nil {
		return fail(env, "account info", err)
	}
	fmt.Fprintf(env.stdout, "label:     %s\nsynthetic: %d ids so far\n", a.Label, a.SyntheticCount())
	return 0
}
