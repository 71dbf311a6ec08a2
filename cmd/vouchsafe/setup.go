package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/ort"
)

func init() {
	register(command{name: "setup", usage: "fetch ONNX Runtime 1.29.0 from the npm registry into the user cache (what `make ort` does)", run: runSetup})
}

// ortPackage is an npm package that carries ONNX Runtime libraries. The same
// packages, sums and members are in scripts/fetch-ort.sh (a test checks).
type ortPackage struct {
	name, version string
	sha256        string   // of the tarball npm pack writes
	members       []string // files in the tarball, extracted side by side
	marker        string   // the member whose NAME.sha256 says the package is installed
}

func (p ortPackage) spec() string    { return p.name + "@" + p.version }
func (p ortPackage) tarball() string { return p.name + "-" + p.version + ".tgz" }

// ortPackages returns the packages for the CPU library and, with cuda, the
// CUDA 13 execution provider.
func ortPackages(cuda bool) []ortPackage {
	ps := []ortPackage{{
		name: "onnxruntime-node", version: "1.29.0",
		sha256:  "cfdfb45ec4044b1fdca43e5d2e180fb6817e649ff8ad1e0dfc90e18e51b67037",
		members: []string{"package/bin/napi-v6/linux/x64/libonnxruntime.so.1"},
		marker:  "libonnxruntime.so.1",
	}}
	if cuda {
		ps = append(ps, ortPackage{
			name: "com.github.asus4.onnxruntime.linux-x64-gpu", version: "0.4.9",
			sha256: "2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412",
			members: []string{
				"package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so",
				"package/Plugins/Linux/x64/libonnxruntime_providers_shared.so",
			},
			marker: "libonnxruntime_providers_cuda.so",
		})
	}
	return ps
}

// Limits on what a tarball may hold: the CUDA provider, the largest file, is
// about 230 MB.
const (
	maxTarball = 2 << 30
	maxMember  = 1 << 30
)

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
	pkgs := ortPackages(*cuda)
	if *from != "" && len(pkgs) > 1 {
		return fail(env, "setup", errors.New("--from installs one tarball; run --cuda without it"))
	}
	for _, p := range pkgs {
		if installed(*dir, p) {
			fmt.Fprintf(env.stderr, "vouchsafe setup: %s already in %s\n", p.marker, *dir)
			continue
		}
		src := *from
		if src == "" {
			fmt.Fprintf(env.stderr, "vouchsafe setup: fetching %s from the npm registry (the only download; nothing is fetched at run time)\n", p.spec())
			tmp, err := os.MkdirTemp("", "vouchsafe-setup-")
			if err != nil {
				return fail(env, "setup", err)
			}
			defer os.RemoveAll(tmp)
			if src, err = fetchTarball(ctx, p, tmp, "https://registry.npmjs.org"); err != nil {
				return fail(env, "setup", err)
			}
		}
		if err := installTarball(src, p, *dir); err != nil {
			return fail(env, "setup", err)
		}
		fmt.Fprintf(env.stderr, "vouchsafe setup: %s (sha256-checked) in %s\n", strings.Join(memberNames(p), ", "), *dir)
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

func memberNames(p ortPackage) []string {
	var ns []string
	for _, m := range p.members {
		ns = append(ns, path.Base(m))
	}
	return ns
}

// installed reports whether dir holds p's marker file with the sum of p's
// tarball beside it, as this command and scripts/fetch-ort.sh leave them.
func installed(dir string, p ortPackage) bool {
	b, err := os.ReadFile(filepath.Join(dir, p.marker+".sha256"))
	if err != nil || strings.TrimSpace(string(b)) != p.sha256 {
		return false
	}
	st, err := os.Stat(filepath.Join(dir, p.marker))
	return err == nil && st.Mode().IsRegular()
}

// fetchTarball gets p's tarball into dir with `npm pack` (so npm's own
// registry and proxy settings apply) or, without npm, over HTTPS from registry.
// It returns the tarball's path; the caller checks its sum.
func fetchTarball(ctx context.Context, p ortPackage, dir, registry string) (string, error) {
	dst := filepath.Join(dir, p.tarball())
	if npm, err := exec.LookPath("npm"); err == nil {
		cmd := exec.CommandContext(ctx, npm, "pack", "--silent", p.spec())
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("npm pack %s: %v: %s", p.spec(), err, bytes.TrimSpace(stderr.Bytes()))
		}
		return dst, nil
	}
	url := registry + "/" + p.name + "/-/" + p.tarball()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	client := &http.Client{Timeout: 30 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("npm is not installed, and fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("npm is not installed, and %s answered %s", url, resp.Status)
	}
	f, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, maxTarball+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", url, err)
	}
	if n > maxTarball {
		return "", fmt.Errorf("%s is larger than %d bytes", url, int64(maxTarball))
	}
	return dst, nil
}

// installTarball checks src's sha256 against p's and extracts p's members
// into dir, each written to a temporary name and renamed, the sum file last.
func installTarball(src string, p ortPackage, dir string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return err
	} else if !st.Mode().IsRegular() || st.Size() > maxTarball {
		return fmt.Errorf("%s: not a regular file of at most %d bytes", src, int64(maxTarball))
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.sha256 {
		return fmt.Errorf("%s: sha256 %s, want %s (%s); nothing installed", src, got, p.sha256, p.spec())
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	want := map[string]bool{}
	for _, m := range p.members {
		want[m] = true
	}
	var temps []string
	defer func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}()
	done := map[string]string{} // member → temporary file
	tr := tar.NewReader(zr)
	for len(done) < len(want) {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		if !want[hdr.Name] || done[hdr.Name] != "" || hdr.Typeflag != tar.TypeReg {
			continue
		}
		if hdr.Size > maxMember {
			return fmt.Errorf("%s: %s is %d bytes", src, hdr.Name, hdr.Size)
		}
		tmp, err := os.CreateTemp(dir, ".vouchsafe-setup-*")
		if err != nil {
			return err
		}
		temps = append(temps, tmp.Name())
		_, err = io.Copy(tmp, io.LimitReader(tr, maxMember))
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: extracting %s: %w", src, hdr.Name, err)
		}
		if err := os.Chmod(tmp.Name(), 0o644); err != nil {
			return err
		}
		done[hdr.Name] = tmp.Name()
	}
	for _, m := range p.members {
		if done[m] == "" {
			return fmt.Errorf("%s: %s is not in the tarball", src, m)
		}
	}
	for _, m := range p.members {
		if err := os.Rename(done[m], filepath.Join(dir, path.Base(m))); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, p.marker+".sha256"), []byte(p.sha256+"\n"), 0o644)
}
