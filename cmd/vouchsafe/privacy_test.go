package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/ort"
)

// TestNothingLeavesTheMachine runs real hash and PSI commands under strace and
// checks, from the system calls, that none of them uses the network in any way
// (no socket at all: no DNS, no netlink) and that nothing is written outside
// the output folder: no telemetry database under $HOME, no log in $TMPDIR or
// /tmp. The ONNX Runtime build `make ort` fetches carries Microsoft's telemetry
// client, which does all three unless internal/ort switches it off; the child
// is even given ORT_DISABLE_TELEMETRY=0 to show that vouchsafe overrides it.
func TestNothingLeavesTheMachine(t *testing.T) {
	strace := requireStrace(t)
	bin, err := exec.LookPath("vouchsafe") // the test binary, set up by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	photos, err := filepath.Abs(filepath.Join("..", "..", "testdata", "photos"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dirs := map[string]string{}
	for _, d := range []string{"out", "home", "tmp", "cwd", "trace"} {
		dirs[d] = filepath.Join(root, d)
		if err := os.Mkdir(dirs[d], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := dirs["out"]
	env := []string{
		"HOME=" + dirs["home"],
		"TMPDIR=" + dirs["tmp"],
		"PATH=" + os.Getenv("PATH"),
		ort.TelemetryEnv + "=0",
	}
	lib, ortErr := ort.FindLibrary("")
	if ort.Available && ortErr == nil {
		env = append(env, ort.EnvLibrary+"="+lib)
	}

	n := 0
	run := func(args ...string) {
		t.Helper()
		n++
		prefix := filepath.Join(dirs["trace"], fmt.Sprintf("%d-%s", n, args[0]))
		cmd := exec.Command(strace, append([]string{"-f", "-ff", "-y", "-qq", "-e", "trace=network,file", "-o", prefix, bin}, args...)...)
		cmd.Dir = dirs["cwd"]
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("vouchsafe %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		bad := traceViolations(t, prefix, out)
		for i, v := range bad {
			if i == 10 {
				t.Errorf("vouchsafe %s: and %d more", args[0], len(bad)-i)
				break
			}
			t.Errorf("vouchsafe %s: %s", args[0], v)
		}
	}

	if !ort.Available || ortErr != nil {
		t.Logf("no ONNX Runtime here (%v); hash is not traced, the PSI commands are", ortErr)
	} else {
		run("hash", "-o", filepath.Join(out, "lib.jsonl"), photos)
		b, err := os.ReadFile(filepath.Join(out, "lib.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(string(b), `"hash":"`); got < 10 {
			t.Fatalf("hash wrote %d hashes; want the sample photos'", got)
		}
	}

	// The PSI flow over files: table, account, vouchers with derivatives, reveal.
	list := filepath.Join(out, "list.txt")
	records := filepath.Join(out, "psi.jsonl")
	writeFile(t, list, "00000000000000000000000a\n00000000000000000000000b\n")
	writeFile(t, records, fmt.Sprintf(
		`{"path":%q,"hash":"00000000000000000000000a","width":512,"height":512}`+"\n"+
			`{"path":%q,"hash":"00000000000000000000000b","width":512,"height":512}`+"\n",
		filepath.Join(photos, "coffee.png"), filepath.Join(photos, "rocket.jpg")))
	run("db", "build", "--source", "a:US:"+list, "--source", "b:UK:"+list,
		"-o", filepath.Join(out, "t.vsdb"), "--key", filepath.Join(out, "s.key"), "--t", "1", "--s", "2")
	run("account", "new", "-o", filepath.Join(out, "a.key"), "--label", "bob")
	run("voucher", "--images", "--table", filepath.Join(out, "t.vsdb"), "--account", filepath.Join(out, "a.key"),
		records, "-o", filepath.Join(out, "v.vs"), "--synthetic-rate", "0")
	run("reconstruct", "--key", filepath.Join(out, "s.key"), filepath.Join(out, "v.vs"), "-o", filepath.Join(out, "report.json"))

	for _, d := range []string{"home", "tmp", "cwd"} {
		if ents, _ := os.ReadDir(dirs[d]); len(ents) > 0 {
			t.Errorf("$%s has %s afterwards; want nothing", strings.ToUpper(d), ents[0].Name())
		}
	}
}

// requireStrace returns strace's path, or skips the test where strace is
// missing or cannot trace (no ptrace), except in CI, where it must work.
func requireStrace(t *testing.T) string {
	t.Helper()
	why := ""
	p, err := exec.LookPath("strace")
	if err != nil {
		why = "strace is not installed (apt-get install strace)"
	} else if b, err := exec.Command(p, "-f", "-qq", "-o", os.DevNull, "true").CombinedOutput(); err != nil {
		why = fmt.Sprintf("strace cannot trace here: %v %s", err, b)
	}
	if why == "" {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s; CI must run this test (.ci/run installs strace)", why)
	}
	t.Skipf("%s: the network and file-system trace of hash and the PSI commands is NOT checked", why)
	return ""
}

func writeFile(t *testing.T, name, s string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Syscalls that change the file system when they name a path (strace -e
// trace=file reports them all; the others only read).
var writingCalls = map[string]bool{
	"creat": true, "mkdir": true, "mkdirat": true, "mknod": true, "mknodat": true,
	"unlink": true, "unlinkat": true, "rmdir": true,
	"rename": true, "renameat": true, "renameat2": true,
	"link": true, "linkat": true, "symlink": true, "symlinkat": true,
	"truncate": true, "chmod": true, "fchmodat": true, "fchmodat2": true,
	"chown": true, "lchown": true, "fchownat": true,
	"utime": true, "utimes": true, "utimensat": true, "futimesat": true,
	"setxattr": true, "lsetxattr": true, "removexattr": true, "lremovexattr": true,
}

var (
	// A syscall line of strace -y: name(args) = result.
	callLine = regexp.MustCompile(`^([a-z0-9_]+)\((.*)\) += (.*)$`)
	// A path argument, after a directory descriptor (AT_FDCWD</dir> or 3</dir>) or alone.
	atPath    = regexp.MustCompile(`(?:AT_FDCWD|-?\d+)<([^>]*)>, "([^"]*)"`)
	loosePath = regexp.MustCompile(`(?:^|, )"([^"]*)"`)
)

// traceViolations reads the per-process files strace -ff wrote under prefix
// and lists every network call and every change to the file system outside
// allowed.
func traceViolations(t *testing.T, prefix, allowed string) []string {
	t.Helper()
	files, err := filepath.Glob(prefix + ".*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no strace output at %s.*: %v", prefix, err)
	}
	var bad []string
	lines, writesSeen := 0, 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines++
			line := sc.Text()
			if strings.Contains(line, "Microsoft") || strings.Contains(line, "mat-debug") {
				bad = append(bad, "telemetry files touched: "+line)
				continue
			}
			m := callLine.FindStringSubmatch(line)
			if m == nil {
				continue // a signal, an exit, a resumed call's tail
			}
			name, args := m[1], m[2]
			if isNetworkCall(name) {
				bad = append(bad, "network: "+line)
				continue
			}
			if !writes(name, args) {
				continue
			}
			writesSeen++
			for _, p := range callPaths(args) {
				if !within(p, allowed) {
					bad = append(bad, "writes outside the output: "+line)
					break
				}
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if lines == 0 {
		t.Fatalf("strace traced nothing under %s", prefix)
	}
	t.Logf("%s: %d traced calls in %d threads, %d writes checked, %d findings", filepath.Base(prefix), lines, len(files), writesSeen, len(bad))
	return bad
}

// isNetworkCall is true for the calls strace's %network class traces; every
// one of them means a socket was made or used.
func isNetworkCall(name string) bool {
	switch name {
	case "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
		"sendto", "sendmsg", "sendmmsg", "recvfrom", "recvmsg", "recvmmsg",
		"getsockname", "getpeername", "setsockopt", "getsockopt", "shutdown":
		return true
	}
	return false
}

func writes(name, args string) bool {
	if writingCalls[name] {
		return true
	}
	switch name {
	case "open", "openat", "openat2":
		return strings.Contains(args, "O_WRONLY") || strings.Contains(args, "O_RDWR") ||
			strings.Contains(args, "O_CREAT") || strings.Contains(args, "O_TRUNC")
	}
	return false
}

// callPaths returns the absolute paths a call names. With -y every directory
// descriptor, AT_FDCWD included, is printed with its path.
func callPaths(args string) []string {
	var ps []string
	for _, m := range atPath.FindAllStringSubmatch(args, -1) {
		p := m[2]
		if !filepath.IsAbs(p) {
			p = filepath.Join(m[1], p)
		}
		ps = append(ps, p)
	}
	if len(ps) > 0 {
		return ps
	}
	for _, m := range loosePath.FindAllStringSubmatch(args, -1) {
		ps = append(ps, m[1]) // relative ones are not within anything: flagged
	}
	if len(ps) == 0 {
		ps = append(ps, "(no path: "+args+")")
	}
	return ps
}

func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, filepath.Clean(p))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && filepath.IsAbs(p)
}

// The checker itself, on lines from a real trace of `hash` with ONNX
// Runtime's telemetry left on (strace -f -ff -y): each of them must be caught,
// and the writes of a clean run must not.
func TestTraceViolations(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		line string
		bad  bool
	}{
		{`socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 13<UDP:[123]>`, true},
		{`connect(13<UDP:[123]>, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0`, true},
		{`sendto(13<UDP:[123]>, "\244\375\1\0\0\1\0\0\0\0\0\0\6mobile\6events\4data\t"..., 50, MSG_NOSIGNAL, NULL, 0) = 50`, true},
		{`socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 5<NETLINK:[456]>`, true},
		{`mkdir("/home/u/.cache", 0700) = 0`, true},
		{`openat(AT_FDCWD</w>, "/tmp/x/tmp/mat-debug-29334.log", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 5</tmp/x/tmp/mat-debug-29334.log>`, true},
		{`unlinkat(12</home/u/.cache/Microsoft/DeveloperTools/.onnxruntime>, "deviceid.tmp.dbf3", 0) = 0`, true},
		{`openat(AT_FDCWD</w>, "notes.txt", O_RDWR|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 5</w/notes.txt>`, true},
		{`renameat(AT_FDCWD</w>, "` + out + `/.vouchsafe-1", AT_FDCWD</w>, "/etc/passwd") = 0`, true},
		{`openat(AT_FDCWD</w>, "` + out + `/lib.jsonl", O_RDWR|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 5</x>`, false},
		{`renameat(AT_FDCWD</w>, "` + out + `/.vouchsafe-1", AT_FDCWD</w>, "` + out + `/s.key") = 0`, false},
		{`openat(AT_FDCWD</w>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache>`, false},
		{`readlinkat(AT_FDCWD</w>, "/proc/self/exe", "/tmp/b/vouchsafe", 128) = 16`, false},
		{`--- SIGURG {si_signo=SIGURG, si_code=SI_TKILL, si_pid=1, si_uid=0} ---`, false},
	} {
		prefix := filepath.Join(dir, "t")
		writeFile(t, prefix+".1", tc.line+"\n")
		if got := len(traceViolations(t, prefix, out)); (got > 0) != tc.bad {
			t.Errorf("%s: %d findings; want bad=%v", tc.line, got, tc.bad)
		}
	}
}
