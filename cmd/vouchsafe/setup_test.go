package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The command refuses a tarball that is not the pinned one, naming it.
func TestSetupCommandRefusesWrongTarball(t *testing.T) {
	src := filepath.Join(t.TempDir(), "onnxruntime-node-1.29.0.tgz")
	if err := os.WriteFile(src, []byte("not it"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ort")
	var stdout, stderr bytes.Buffer
	code := run1(&cliEnv{stdout: &stdout, stderr: &stderr}, []string{"setup", "--from", src, "--dir", dir})
	if code != 1 || !strings.Contains(stderr.String(), src+": sha256") || !strings.Contains(stderr.String(), "onnxruntime-node@1.29.0") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s created", dir)
	}
	if code := run1(&cliEnv{stdout: &stdout, stderr: &stderr}, []string{"setup", "extra"}); code != 2 {
		t.Errorf("setup with an argument: exit %d", code)
	}
}
