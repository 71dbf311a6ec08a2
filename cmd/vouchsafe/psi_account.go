package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/vouchsafe/vouchsafe/internal/safeio"
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
	label := fs.String("label", "", "public account name the server files vouchers under (default: random)")
	force := fs.Bool("force", false, "overwrite an existing file")
	pos, st, ok := parseInterleaved(fs, args)
	if !ok {
		return st
	}
	if len(pos) != 0 || *out == "" {
		fs.Usage()
		return 2
	}
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
	if err := saveAccount(*out, a); err != nil {
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
	a, err := loadAccount(pos[0])
	if err != nil {
		return fail(env, "account info", err)
	}
	fmt.Fprintf(env.stdout, "label:     %s\nsynthetic: %d vouchers so far\n", a.Label, a.Synthetic)
	return 0
}

func loadAccount(path string) (*psi.Account, error) {
	b, err := safeio.ReadFile(path, safeio.MaxKeyFile)
	if err != nil {
		return nil, err
	}
	a := new(psi.Account)
	if err := a.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

func saveAccount(path string, a *psi.Account) error {
	b, err := a.MarshalBinary()
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b, 0o600)
}
