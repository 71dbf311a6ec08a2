package ort

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fakeTarball writes a gzipped tar holding files (name → content) and returns
// its path and sha256.
func fakeTarball(t *testing.T, files map[string]string) (string, string) {
	t.Helper()
	b := tarBytes(t, files)
	p := filepath.Join(t.TempDir(), "pkg.tgz")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:])
}

// tarBytes is a gzipped tar holding files (name → content).
func tarBytes(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testPackage(sum string) Package {
	return Package{
		Name: "fake-ort", Version: "1.0.0", SHA256: sum,
		Members: []string{"package/lib/libfake.so.1", "package/lib/libfake_extra.so"},
		Marker:  "libfake.so.1",
	}
}

func TestInstallTarball(t *testing.T) {
	src, sum := fakeTarball(t, map[string]string{
		"package/README":               "not extracted",
		"package/lib/libfake.so.1":     "the library",
		"package/lib/libfake_extra.so": "its companion",
	})
	p := testPackage(sum)
	dir := filepath.Join(t.TempDir(), "ort")
	if Installed(dir, p) {
		t.Fatal("installed before anything was")
	}
	if err := InstallTarball(src, p, dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"libfake.so.1": "the library", "libfake_extra.so": "its companion", "libfake.so.1.sha256": sum + "\n"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("%d files in %s; want the 2 members and the sum (no README, no temporary files)", len(ents), dir)
	}
	if !Installed(dir, p) {
		t.Error("not reported as installed")
	}

	// Another tarball's sum: refused before anything is written.
	empty := filepath.Join(t.TempDir(), "ort")
	wrong := testPackage(strings.Repeat("0", 64))
	if err := InstallTarball(src, wrong, empty); err == nil || !strings.Contains(err.Error(), "sha256 "+sum) || !strings.Contains(err.Error(), "nothing installed") {
		t.Errorf("wrong sum: %v", err)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Errorf("%s created for a tarball with the wrong sum", empty)
	}
	if Installed(dir, wrong) {
		t.Error("a different sum reported as installed")
	}

	// A member missing: an error naming it, no partial install.
	src2, sum2 := fakeTarball(t, map[string]string{"package/lib/libfake.so.1": "the library"})
	dir2 := t.TempDir()
	if err := InstallTarball(src2, testPackage(sum2), dir2); err == nil || !strings.Contains(err.Error(), "package/lib/libfake_extra.so is not in the tarball") {
		t.Errorf("missing member: %v", err)
	}
	if ents, _ := os.ReadDir(dir2); len(ents) != 0 {
		t.Errorf("missing member left %s behind", ents[0].Name())
	}

	// Not a tarball at all (with the right sum).
	junk := filepath.Join(t.TempDir(), "junk.tgz")
	os.WriteFile(junk, []byte("junk"), 0o644)
	js := sha256.Sum256([]byte("junk"))
	if err := InstallTarball(junk, testPackage(hex.EncodeToString(js[:])), t.TempDir()); err == nil || !strings.Contains(err.Error(), junk) {
		t.Errorf("junk: %v", err)
	}
}

// Without npm the tarball comes over HTTPS from the registry's tarball URL.
func TestFetchWithoutNPM(t *testing.T) {
	src, sum := fakeTarball(t, map[string]string{"package/lib/libfake.so.1": "lib", "package/lib/libfake_extra.so": "x"})
	body, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var asked string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.Path
		if r.URL.Path != "/fake-ort/-/fake-ort-1.0.0.tgz" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	t.Setenv("PATH", t.TempDir()) // no npm
	p := testPackage(sum)
	got, err := FetchTarball(context.Background(), p, t.TempDir(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := InstallTarball(got, p, dir); err != nil || !Installed(dir, p) {
		t.Fatalf("installing the fetched tarball: %v", err)
	}
	if asked != "/fake-ort/-/fake-ort-1.0.0.tgz" {
		t.Errorf("asked for %q", asked)
	}
	p.Name = "missing"
	if _, err := FetchTarball(context.Background(), p, t.TempDir(), srv.URL); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing package: %v", err)
	}
}

// scripts/fetch-ort.sh (make ort) and vouchsafe setup fetch the same files.
func TestPackagesMatchFetchScript(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "scripts", "fetch-ort.sh"))
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	for _, p := range Packages(true) {
		for _, want := range []string{
			"pkg=" + p.Spec() + "\n",
			"tgz=" + p.Tarball() + "\n",
			"sum=" + p.SHA256 + "\n",
			"members=(" + strings.Join(p.Members, " ") + ")\n",
			"want=" + p.Marker + "\n",
		} {
			if !strings.Contains(script, want) {
				t.Errorf("scripts/fetch-ort.sh lacks %q", strings.TrimSpace(want))
			}
		}
	}
	if n := len(regexp.MustCompile(`(?m)^  pkg=`).FindAllString(script, -1)); n != len(Packages(true)) {
		t.Errorf("scripts/fetch-ort.sh has %d packages; setup knows %d", n, len(Packages(true)))
	}
}

// Whatever the tarball holds, extraction writes all of the package's members
// or nothing, and only into its folder.
func FuzzExtractMembers(f *testing.F) {
	f.Add(tarBytes(f, map[string]string{"package/lib/libfake.so.1": "a", "package/lib/libfake_extra.so": "b"}))
	f.Add(tarBytes(f, map[string]string{"package/lib/libfake.so.1": "a"}))
	f.Add(tarBytes(f, map[string]string{"../libfake.so.1": "a", "package/lib/../lib/libfake_extra.so": "b"}))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	p := testPackage("")
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, "ort")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		err := extractMembers(bytes.NewReader(data), p, dir)
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if err != nil && len(names) != 0 {
			t.Fatalf("error %v, yet %v written", err, names)
		}
		if err == nil && strings.Join(names, " ") != "libfake.so.1 libfake_extra.so" {
			t.Fatalf("extracted %v", names)
		}
		if outside, _ := os.ReadDir(root); len(outside) != 1 {
			t.Fatalf("%d entries beside the folder", len(outside))
		}
	})
}
