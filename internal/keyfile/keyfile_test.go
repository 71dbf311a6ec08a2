package keyfile

import (
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/safeio"
	"github.com/vouchsafe/vouchsafe/psi"
)

func testAccount(t *testing.T) *psi.Account {
	t.Helper()
	a, err := psi.NewAccount(rand.NewChaCha8(sha256.Sum256([]byte("keyfile"))), "kf")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestReadSecretRules(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "acct.key")
	if err := SaveAccount(p, testAccount(t)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("written with %v, %v", fi.Mode(), err)
	}
	if a, err := LoadAccount(p); err != nil || a.Label != "kf" {
		t.Fatalf("load: %v", err)
	}
	// Group-readable: refused.
	os.Chmod(p, 0o640)
	if _, err := LoadAccount(p); err == nil || !strings.Contains(err.Error(), "group or others") {
		t.Fatalf("mode 0640: %v", err)
	}
	os.Chmod(p, 0o600)
	// A flipped bit: an error naming the file.
	b, _ := os.ReadFile(p)
	b[12] ^= 0x10
	os.WriteFile(p, b, 0o600)
	if _, err := LoadAccount(p); !errors.Is(err, psi.ErrChecksum) || !strings.Contains(err.Error(), p) {
		t.Fatalf("flipped bit: %v", err)
	}
	// Too large: refused before reading ("at most" is the size check at
	// open; a cap hit while reading says "more than").
	big := filepath.Join(dir, "big.key")
	os.WriteFile(big, make([]byte, MaxAccount+1), 0o600)
	if _, err := LoadAccount(big); !errors.Is(err, safeio.ErrTooLarge) || !strings.Contains(err.Error(), big) ||
		!strings.Contains(err.Error(), "at most") {
		t.Fatalf("oversized: %v", err)
	}
	// A FIFO (no writer: a blocking open would hang) and a device.
	fifo := filepath.Join(dir, "fifo.key")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadServerKey(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("fifo: %v", err)
	}
	if _, err := LoadServerKey("/dev/zero"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("/dev/zero: %v", err)
	}
	if _, err := LoadServer(nil); err == nil {
		t.Fatal("no keys accepted")
	}
}

// A second writer of one account file is refused while the first holds
// the lock, and can go once it is released.
func TestLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "acct.key")
	unlock, err := Lock(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(p); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	// The atomic rewrite of the account does not drop the lock.
	if err := SaveAccount(p, testAccount(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(p); !errors.Is(err, ErrLocked) {
		t.Fatalf("lock after rewrite: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock, err = Lock(p)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock()
}
