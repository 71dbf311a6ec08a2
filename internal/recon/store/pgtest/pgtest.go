// Package pgtest runs a throwaway PostgreSQL server for tests: initdb in a
// temporary folder, listening only on a Unix socket in that folder, stopped
// and removed by Stop.
//
// The server binaries are looked up in $VOUCHSAFE_PG_BIN, then
// /usr/lib/postgresql/*/bin (Debian's postgresql package), then $PATH.
// initdb refuses to run as root, so as root the server runs as the
// "postgres" user (runuser), and the folder is handed to that user.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoServer means no PostgreSQL binaries were found.
var ErrNoServer = errors.New("pgtest: PostgreSQL server binaries (initdb, pg_ctl) not found; install Debian's postgresql package or set VOUCHSAFE_PG_BIN")

// Server is one running PostgreSQL server.
type Server struct {
	bin   string // folder of initdb, pg_ctl
	dir   string // everything: data, socket, log
	runAs string // user to run the server as, "" for ourselves
	port  int    // names the socket; distinct per server so their SysV keys differ too

	mu      sync.Mutex
	dbCount int
}

// findBin returns the folder holding initdb and pg_ctl.
func findBin() (string, error) {
	if d := os.Getenv("VOUCHSAFE_PG_BIN"); d != "" {
		return d, nil
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) > 0 {
		slices.Sort(m) // the newest version last, if several
		return filepath.Dir(m[len(m)-1]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoServer
}

// Start initialises and starts a server in a new temporary folder.
func Start() (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "vouchsafe-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, port: 20000 + int(rand.Uint32()%40000)}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: running as root and there is no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s.runAs = "postgres"
	}
	// PostgreSQL insists on a private data folder.
	if out, err := s.run("initdb", "-D", s.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		s.remove()
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	if err := s.start(); err != nil {
		s.remove()
		return nil, err
	}
	return s, nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// run runs one of the server's programs as the server's user.
func (s *Server) run(prog string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	// pg_ctl's server inherits our stdout unless told otherwise (-l), which
	// would keep `go test` waiting for it.
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a ^C to the test does not reach the server first
	err := cmd.Run()
	return out.Bytes(), err
}

// options are the server's settings: no TCP, the socket in our folder, and
// the durability settings left at their defaults (fsync, synchronous_commit).
func (s *Server) options() string {
	return "-c listen_addresses= -k " + s.dir + " -p " + strconv.Itoa(s.port) + " -c max_connections=200 -c shared_buffers=32MB -c recovery_init_sync_method=syncfs"
}

func (s *Server) start() error {
	out, err := s.run("pg_ctl", "start", "-w", "-t", "60", "-D", s.data(), "-l", filepath.Join(s.dir, "log"), "-o", s.options())
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, s.Log())
	}
	return nil
}

// Restart crashes the server (pg_ctl restart -m immediate: no checkpoint,
// open connections dropped) and starts it again, which replays the WAL.
func (s *Server) Restart() error {
	out, err := s.run("pg_ctl", "restart", "-m", "immediate", "-w", "-t", "60", "-D", s.data(), "-l", filepath.Join(s.dir, "log"), "-o", s.options())
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl restart: %v\n%s\n%s", err, out, s.Log())
	}
	return nil
}

// Halt stops the server at once (pg_ctl stop -m immediate), keeping its
// data for Resume.
func (s *Server) Halt() error {
	out, err := s.run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", s.data())
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Resume starts a halted server again.
func (s *Server) Resume() error { return s.start() }

// Log returns the server's log.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	return string(b)
}

// URL is the connection URL of database db (on the Unix socket).
func (s *Server) URL(db string) string {
	u := url.URL{Scheme: "postgres", Path: "/" + db, RawQuery: url.Values{"host": {s.dir}, "port": {strconv.Itoa(s.port)}, "user": {"postgres"}}.Encode()}
	return u.String()
}

// Dir is the server's folder (its Unix socket is there).
func (s *Server) Dir() string { return s.dir }

// Port is the server's port number (which names its socket).
func (s *Server) Port() int { return s.port }

// CreateDB creates a new empty database and returns its URL.
func (s *Server) CreateDB(ctx context.Context) (string, error) {
	s.mu.Lock()
	s.dbCount++
	name := fmt.Sprintf("t%d", s.dbCount)
	s.mu.Unlock()
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	return s.URL(name), nil
}

// Stop stops the server and removes its folder.
func (s *Server) Stop() error {
	out, err := s.run("pg_ctl", "stop", "-m", "fast", "-w", "-D", s.data())
	s.remove()
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

func (s *Server) remove() { os.RemoveAll(s.dir) }

// New starts a server for one test and stops it when the test ends. See
// Shared.Get for when it skips.
func New(t testing.TB) *Server {
	t.Helper()
	start := time.Now()
	srv, err := Start()
	if err != nil {
		skipOrFail(t, err)
	}
	t.Logf("PostgreSQL started in %v", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	})
	return srv
}

// skipOrFail skips the test when the binaries are missing, except in CI
// (CI=true) where that fails it; any other error fails it.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNoServer) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	t.Fatal(err)
}

// Shared is a server for the tests of one package, started by the first
// test that asks and stopped by the package's TestMain.
type Shared struct {
	mu   sync.Mutex
	srv  *Server
	err  error
	done bool
}

// Get returns the package's server, starting it on first use.
func (sh *Shared) Get(t testing.TB) *Server {
	t.Helper()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !sh.done {
		sh.done = true
		start := time.Now()
		sh.srv, sh.err = Start()
		if sh.err == nil {
			t.Logf("PostgreSQL started in %v", time.Since(start).Round(time.Millisecond))
		}
	}
	if sh.err != nil {
		skipOrFail(t, sh.err)
	}
	return sh.srv
}

// Stop stops the server if it was started.
func (sh *Shared) Stop() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.srv != nil {
		sh.srv.Stop()
		sh.srv = nil
	}
}
