package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vouchsafe/vouchsafe/internal/ort"
)

func init() {
	register(command{name: "setup", usage: "fetch ONNX Runtime 1.29.0 from the npm registry into the user cache (what `make ort` does)", run: runSetup})
}

func runSetup(env *cliEnv, args []string) int {
	fs := newFlagSet(env, "setup", "[--dir DIR] [--cuda] [--from FILE.tgz]")
	def, defErr := ort.UserDir()
	dir := fs.String("dir", def, "folder to install into (one that vouchsafe searches; see hash --ort-lib)")
	cuda := fs.Bool("cuda", false, "also fetch the CUDA 13 execution provider (asus4's onnxruntime-unity package, ~230 MB)")
	from := fs.String("from", "", "install from this already downloaded onnxruntime-node-1.29.0.tgz instead of the network (still sha256-checked)")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	if *dir == "" {
		return fail(env, "setup", fmt.Errorf("no user cache folder (%v): pass --dir", defErr))
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return fail(env, "setup", fmt.Errorf("only linux/amd64 libraries are fetched; on %s/%s install ONNX Runtime 1.29 yourself and set %s", runtime.GOOS, runtime.GOARCH, ort.EnvLibrary))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	pkgs := ort.Packages(*cuda)
	if *from != "" && len(pkgs) > 1 {
		return fail(env, "setup", errors.New("--from installs one tarball; run --cuda without it"))
	}
	for _, p := range pkgs {
		if ort.Installed(*dir, p) {
			fmt.Fprintf(env.stderr, "vouchsafe setup: %s already in %s\n", p.Marker, *dir)
			continue
		}
		src := *from
		if src == "" {
			fmt.Fprintf(env.stderr, "vouchsafe setup: fetching %s from the npm registry (the only download; nothing is fetched at run time)\n", p.Spec())
			tmp, err := os.MkdirTemp("", "vouchsafe-setup-")
			if err != nil {
				return fail(env, "setup", err)
			}
			defer os.RemoveAll(tmp)
			if src, err = ort.FetchTarball(ctx, p, tmp, ort.Registry); err != nil {
				return fail(env, "setup", err)
			}
		}
		if err := ort.InstallTarball(src, p, *dir); err != nil {
			return fail(env, "setup", err)
		}
		fmt.Fprintf(env.stderr, "vouchsafe setup: %s (sha256-checked) in %s\n", strings.Join(ort.MemberNames(p), ", "), *dir)
	}
	lib := filepath.Join(*dir, ort.LibraryName())
	if !ort.Available {
		fmt.Fprintf(env.stdout, "%s\n", lib)
		fmt.Fprintln(env.stderr, "vouchsafe setup: this vouchsafe was built without cgo and cannot load it; rebuild with CGO_ENABLED=1")
		return 0
	}
	if _, err := ort.Init(lib); err != nil {
		return fail(env, "setup", err)
	}
	fmt.Fprintf(env.stdout, "%s\n", lib)
	fmt.Fprintf(env.stderr, "vouchsafe setup: ONNX Runtime %s loads; vouchsafe finds it there\n", ort.Version())
	return 0
}
