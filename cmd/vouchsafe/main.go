// Command vouchsafe hashes photo libraries with NeuralHash-compatible models and
// runs the private-set-intersection voucher protocol around those hashes.
//
// Each subcommand lives in its own file and registers itself in commands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand. run gets the arguments after the subcommand's name
// and returns the process exit status.
type command struct {
	name  string
	usage string // one line, shown by `vouchsafe help`
	run   func(env *cliEnv, args []string) int
}

// cliEnv is what a subcommand may touch: its streams, so tests can run main in-process.
type cliEnv struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("vouchsafe: duplicate command " + c.name)
	}
	commands[c.name] = c
}

func main() {
	os.Exit(run1(&cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:]))
}

func run1(env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(env.stdout, "vouchsafe", version())
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "vouchsafe: unknown command %q\n", args[0])
		usage(env.stderr)
		return 2
	}
	return c.run(env, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vouchsafe <command> [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].usage)
	}
}

// newFlagSet returns a FlagSet that reports errors to env.stderr instead of exiting.
func newFlagSet(env *cliEnv, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("vouchsafe "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "usage: vouchsafe %s %s\n", name, synopsis)
		printDefaults(env.stderr, fs)
	}
	return fs
}

// parseFlags parses args and maps -h and parse errors to exit statuses.
// It returns ok=false with the status to return when the command should stop.
func parseFlags(fs *flag.FlagSet, args []string) (status int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return exitOK, true
}

// fail prints "vouchsafe <cmd>: err" and returns exitSomeFail.
func fail(env *cliEnv, cmd string, err error) int {
	fmt.Fprintf(env.stderr, "vouchsafe %s: %v\n", cmd, err)
	return exitSomeFail
}
