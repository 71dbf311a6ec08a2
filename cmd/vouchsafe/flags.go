package main

import (
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// Exit statuses, shared by every command.
const (
	exitOK = 0
	// exitSomeFail: the command failed, or (hash, voucher) it finished but
	// one or more inputs have an error record.
	exitSomeFail = 1
	// exitUsage: bad flags, or a run that could not start or had to stop.
	exitUsage = 2
)

// listFlag is a flag that may be repeated: --key a --key b.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// flagName writes a flag as the commands' help does: -o, --table.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// missingFlags reports, naming it, the first of the required flags that was
// not given (a flag is given when its value is not empty), and prints the
// usage. It returns ok=false with the status to return.
func missingFlags(env *cliEnv, cmd string, fs *flag.FlagSet, names ...string) (status int, ok bool) {
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil || f.Value.String() != "" {
			continue
		}
		arg, _ := flag.UnquoteUsage(f)
		if arg == "string" || arg == "value" {
			arg = "" // the help text names no argument
		}
		if arg != "" {
			arg = " " + strings.ToUpper(arg)
		}
		fmt.Fprintf(env.stderr, "vouchsafe %s: missing %s%s\n", cmd, flagName(n), arg)
		fs.Usage()
		return exitUsage, false
	}
	return exitOK, true
}

// printDefaults is flag.PrintDefaults with --long names, and without
// appending "(default …)" to a help text that already says its default.
func printDefaults(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		var b strings.Builder
		b.WriteString("  " + flagName(f.Name))
		if arg != "" {
			b.WriteString(" " + arg)
		}
		if b.Len() <= 5 {
			b.WriteString("\t")
		} else {
			b.WriteString("\n    \t")
		}
		b.WriteString(strings.ReplaceAll(usage, "\n", "\n    \t"))
		if !strings.Contains(usage, "(default") {
			switch f.DefValue {
			case "", "0", "false", "0s":
			default:
				if fmt.Sprintf("%T", f.Value) == "*flag.stringValue" {
					fmt.Fprintf(&b, " (default %q)", f.DefValue)
				} else {
					fmt.Fprintf(&b, " (default %s)", f.DefValue)
				}
			}
		}
		fmt.Fprintln(w, b.String())
	})
}

// version is the module version and VCS revision the binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown build)"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " (" + rev + modified + ")"
	}
	return v + " " + bi.GoVersion
}
