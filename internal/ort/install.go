package ort

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Registry is the npm registry the packages come from.
const Registry = "https://registry.npmjs.org"

// Package is an npm package that carries ONNX Runtime libraries, as `vouchsafe
// setup` installs them. The same packages, sums and members are in
// scripts/fetch-ort.sh, which `make ort` runs (a test checks).
type Package struct {
	Name, Version string
	SHA256        string   // of the tarball npm pack writes
	Members       []string // files in the tarball, extracted side by side
	Marker        string   // the member whose NAME.sha256 says the package is installed
}

// Spec is what npm pack is given: name@version.
func (p Package) Spec() string { return p.Name + "@" + p.Version }

// Tarball is the file name npm pack writes.
func (p Package) Tarball() string { return p.Name + "-" + p.Version + ".tgz" }

// Packages returns the packages for the CPU library and, with cuda, the
// CUDA 13 execution provider.
func Packages(cuda bool) []Package {
	ps := []Package{{
		Name: "onnxruntime-node", Version: "1.29.0",
		SHA256:  "cfdfb45ec4044b1fdca43e5d2e180fb6817e649ff8ad1e0dfc90e18e51b67037",
		Members: []string{"package/bin/napi-v6/linux/x64/libonnxruntime.so.1"},
		Marker:  "libonnxruntime.so.1",
	}}
	if cuda {
		ps = append(ps, Package{
			Name: "com.github.asus4.onnxruntime.linux-x64-gpu", Version: "0.4.9",
			SHA256: "2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412",
			Members: []string{
				"package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so",
				"package/Plugins/Linux/x64/libonnxruntime_providers_shared.so",
			},
			Marker: "libonnxruntime_providers_cuda.so",
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

// MemberNames lists the file names p installs.
func MemberNames(p Package) []string {
	var ns []string
	for _, m := range p.Members {
		ns = append(ns, path.Base(m))
	}
	return ns
}

// Installed reports whether dir holds p's marker file with the sum of p's
// tarball beside it, as InstallTarball and scripts/fetch-ort.sh leave them.
func Installed(dir string, p Package) bool {
	b, err := os.ReadFile(filepath.Join(dir, p.Marker+".sha256"))
	if err != nil || strings.TrimSpace(string(b)) != p.SHA256 {
		return false
	}
	st, err := os.Stat(filepath.Join(dir, p.Marker))
	return err == nil && st.Mode().IsRegular()
}

// FetchTarball gets p's tarball into dir with `npm pack` (so npm's own
// registry and proxy settings apply) or, without npm, over HTTPS from registry.
// It returns the tarball's path; the caller checks its sum.
func FetchTarball(ctx context.Context, p Package, dir, registry string) (string, error) {
	dst := filepath.Join(dir, p.Tarball())
	if npm, err := exec.LookPath("npm"); err == nil {
		cmd := exec.CommandContext(ctx, npm, "pack", "--silent", p.Spec())
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("npm pack %s: %v: %s", p.Spec(), err, bytes.TrimSpace(stderr.Bytes()))
		}
		return dst, nil
	}
	url := registry + "/" + p.Name + "/-/" + p.Tarball()
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

// InstallTarball checks src's sha256 against p's and extracts p's members
// into dir, each written to a temporary name and renamed, the sum file last.
func InstallTarball(src string, p Package, dir string) error {
	// Checked before opening too: opening a FIFO would wait for a writer.
	if st, err := os.Stat(src); err != nil {
		return err
	} else if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", src)
	}
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
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return fmt.Errorf("%s: sha256 %s, want %s (%s); nothing installed", src, got, p.SHA256, p.Spec())
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := extractMembers(f, p, dir); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return os.WriteFile(filepath.Join(dir, p.Marker+".sha256"), []byte(p.SHA256+"\n"), 0o644)
}

// extractMembers reads a gzipped tar and writes p's members into dir under
// their base names, all or none: each goes to a temporary file first, and the
// temporary files are renamed only once every member has been read.
func extractMembers(r io.Reader, p Package, dir string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, m := range p.Members {
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
			return err
		}
		if !want[hdr.Name] || done[hdr.Name] != "" || hdr.Typeflag != tar.TypeReg {
			continue
		}
		if hdr.Size > maxMember {
			return fmt.Errorf("%s is %d bytes", hdr.Name, hdr.Size)
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
			return fmt.Errorf("extracting %s: %w", hdr.Name, err)
		}
		if err := os.Chmod(tmp.Name(), 0o644); err != nil {
			return err
		}
		done[hdr.Name] = tmp.Name()
	}
	for _, m := range p.Members {
		if done[m] == "" {
			return fmt.Errorf("%s is not in the tarball", m)
		}
	}
	for _, m := range p.Members {
		if err := os.Rename(done[m], filepath.Join(dir, path.Base(m))); err != nil {
			return err
		}
	}
	return nil
}
