package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ordersettle/ordersettle/internal/buildinfo"
)

// defaultURL is the base URL used when neither --url nor $ORDERSETTLE_URL is set;
// it is where `make run` listens.
const defaultURL = "http://localhost:8080"

// urlEnv names the environment variable that sets the default base URL.
const urlEnv = "ORDERSETTLE_URL"

// tokenEnv names the environment variable that holds the credential sent
// when --token is not given.
const tokenEnv = "ORDERSETTLE_TOKEN"

// command is one subcommand, such as "jobs create".
type command struct {
	name    string // group and verb, e.g. "jobs create"
	args    string // synopsis of its flags and arguments
	summary string // one line saying what it does
	example string // a complete command line

	// setup registers the command's own flags on fs and returns the action to
	// run with the positional arguments once the flags are parsed.
	setup func(fs *flag.FlagSet) action
}

// action runs a command after its flags are parsed.
type action func(ctx context.Context, s *session, args []string) error

// commands lists every subcommand in the order the usage text shows them.
var commands = []*command{
	{
		name:    "jobs create",
		args:    "--from YYYY-MM-DD --to YYYY-MM-DD [--wait] [--out FILE|-]",
		summary: "queue a settlement job; --wait shows its progress, --out also saves its CSV",
		example: "settle jobs create --from 2025-01-01 --to 2025-01-31 --out january.csv",
		setup:   setupJobsCreate,
	},
	{
		name:    "jobs get",
		args:    "ID",
		summary: "show a job's status and progress",
		example: "settle jobs get 5d0c7e0a-4a8e-4b8a-9f5e-0f6f1d2c3b4a",
		setup:   setupJobsGet,
	},
	{
		name:    "jobs list",
		args:    "[--status S] [--limit N | --all]",
		summary: "list jobs, newest first, following the cursor for more than a page",
		example: "settle jobs list --status FAILED --limit 250",
		setup:   setupJobsList,
	},
	{
		name:    "jobs cancel",
		args:    "ID",
		summary: "cancel a QUEUED or RUNNING job",
		example: "settle jobs cancel 5d0c7e0a-4a8e-4b8a-9f5e-0f6f1d2c3b4a",
		setup:   setupJobsCancel,
	},
	{
		name:    "jobs retry",
		args:    "ID",
		summary: "queue a FAILED or CANCELLED job again, under the same ID",
		example: "settle jobs retry 5d0c7e0a-4a8e-4b8a-9f5e-0f6f1d2c3b4a",
		setup:   setupJobsRetry,
	},
	{
		name:    "jobs download",
		args:    "ID [--out FILE|-]",
		summary: "download a COMPLETED job's CSV (default file: settlement-ID.csv; - is stdout)",
		example: "settle jobs download 5d0c7e0a-4a8e-4b8a-9f5e-0f6f1d2c3b4a --out -",
		setup:   setupJobsDownload,
	},
	{
		name:    "settlements list",
		args:    "[--from YYYY-MM-DD] [--to YYYY-MM-DD] [--merchant ID] [--limit N | --all]",
		summary: "list stored settlements by date, then merchant",
		example: "settle settlements list --from 2025-01-01 --to 2025-01-31 --merchant 17 --all",
		setup:   setupSettlementsList,
	},
	{
		name:    "orders create",
		args:    "--product ID --quantity N --buyer BUYER [--idempotency-key K]",
		summary: "order a product; the key makes a retry return the first outcome",
		example: "settle orders create --product 1 --quantity 2 --buyer user-123 --idempotency-key 7c9e6679",
		setup:   setupOrdersCreate,
	},
	{
		name:    "orders get",
		args:    "ID",
		summary: "show an order",
		example: "settle orders get 3f1c2b9e-8d4a-4f6b-9c1d-2e5a7b8c9d0e",
		setup:   setupOrdersGet,
	},
}

// globals holds the flags every command accepts.
type globals struct {
	url   string
	json  bool
	token tokenFlag
}

// register adds the global flags to fs, with their current values as defaults
// so that flags given before the command carry over.
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.url, "url", g.url, "API base `URL`; $"+urlEnv+" sets the default")
	fs.BoolVar(&g.json, "json", g.json, "print the response JSON instead of text")
	fs.Var(&g.token, "token", "the credential (an API key os_… or a JWT) sent as `TOKEN` in Authorization: Bearer;\n"+
		"$"+tokenEnv+" sets the default and keeps it out of the process list")
}

// tokenFlag is the value of --token. Its String is always empty, so that
// usage text never shows a token as a default.
type tokenFlag struct {
	value string
	set   bool // given on the command line, even if empty
}

func (t *tokenFlag) String() string { return "" }

func (t *tokenFlag) Set(v string) error {
	t.value, t.set = v, true
	return nil
}

// dispatch parses the global flags, finds the command and runs it.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	g := globals{url: defaultURL}
	if u := os.Getenv(urlEnv); u != "" {
		g.url = u
	}
	top := newFlagSet("settle")
	g.register(top)
	version := top.Bool("version", false, "print the version and exit")
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return nil
		}
		return usageErrorf("", "%v", err)
	}
	rest := top.Args()
	switch {
	case *version:
		return printVersion(stdout, rest)
	case len(rest) == 0:
		return usageErrorf("", "no command given")
	case rest[0] == "help":
		return help(stdout, rest[1:])
	case rest[0] == "version":
		return printVersion(stdout, rest[1:])
	}

	cmd, rest, err := lookup(rest)
	if err != nil {
		return err
	}
	if cmd == nil { // "settle jobs -h"
		printGroupUsage(stdout, rest[0])
		return nil
	}
	fs := newFlagSet("settle " + cmd.name)
	g.register(fs)
	act := cmd.setup(fs)
	positional, err := parseArgs(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		printCommandUsage(stdout, cmd, fs)
		return nil
	}
	if err != nil {
		return usageErrorf(cmd.name, "%v", err)
	}
	s, err := newSession(g, stdout, stderr)
	if err != nil {
		return usageErrorf(cmd.name, "%v", err)
	}
	err = act(ctx, s, positional)
	var usage *usageError
	if errors.As(err, &usage) && usage.cmd == "" {
		usage.cmd = cmd.name
	}
	return err
}

// lookup finds the command named by the first two words of args and returns
// it with the arguments after its name. A group followed by -h, --help or help
// returns a nil command.
func lookup(args []string) (*command, []string, error) {
	group := args[0]
	if !isGroup(group) {
		return nil, nil, usageErrorf("", "unknown command %q", group)
	}
	if len(args) < 2 {
		return nil, nil, usageErrorf("", "%s needs a command: %s", group, strings.Join(verbs(group), ", "))
	}
	switch args[1] {
	case "-h", "-help", "--help", "help":
		return nil, args[:1], nil
	}
	for _, c := range commands {
		if c.name == group+" "+args[1] {
			return c, args[2:], nil
		}
	}
	return nil, nil, usageErrorf("", "unknown command %q; %s has: %s", group+" "+args[1], group, strings.Join(verbs(group), ", "))
}

// printVersion prints "settle VERSION (REVISION, GOVERSION)"; it takes no
// arguments.
func printVersion(w io.Writer, args []string) error {
	if len(args) > 0 {
		return usageErrorf("", "unexpected argument %q after version", args[0])
	}
	_, err := fmt.Fprintln(w, buildinfo.Read().String("settle"))
	return err
}

// printUsageOf prints the usage of the command name ("jobs create"), or of
// settle when name is not a command.
func printUsageOf(w io.Writer, name string) {
	for _, c := range commands {
		if c.name == name {
			fs := newFlagSet("settle " + c.name)
			g := globals{url: defaultURL}
			g.register(fs)
			c.setup(fs)
			printCommandUsage(w, c, fs)
			return
		}
	}
	printUsage(w)
}

// help prints the usage of everything, of a group or of one command.
func help(w io.Writer, args []string) error {
	if len(args) == 0 {
		printUsage(w)
		return nil
	}
	if len(args) == 1 {
		if !isGroup(args[0]) {
			return usageErrorf("", "unknown command %q", args[0])
		}
		printGroupUsage(w, args[0])
		return nil
	}
	cmd, _, err := lookup(args)
	if err != nil {
		return err
	}
	if cmd == nil {
		printGroupUsage(w, args[0])
		return nil
	}
	fs := newFlagSet("settle " + cmd.name)
	g := globals{url: defaultURL}
	g.register(fs)
	cmd.setup(fs)
	printCommandUsage(w, cmd, fs)
	return nil
}

func isGroup(name string) bool {
	return len(verbs(name)) > 0
}

// verbs lists the commands of a group.
func verbs(group string) []string {
	var vs []string
	for _, c := range commands {
		if g, v, _ := strings.Cut(c.name, " "); g == group {
			vs = append(vs, v)
		}
	}
	return vs
}

// newFlagSet returns a flag set that reports errors to its caller instead of
// printing them, so that every error is one line on stderr.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseArgs parses flags wherever they appear among the arguments (the flag
// package alone stops at the first argument) and returns the arguments that
// are not flags. Everything after "--" is an argument.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `settle is a command-line client for the ordersettle API.

Usage:
  settle [--url URL] [--token TOKEN] [--json] <command> [flags] [arguments]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-16s %s\n  %-16s %s\n  %-16s e.g. %s\n\n", c.name, c.args, "", c.summary, "", c.example)
	}
	fmt.Fprintf(w, `Flags of every command:
  --url URL      API base URL (default $%s, else %s)
  --token TOKEN  the credential, an API key (os_…) or a JWT, sent as
                 Authorization: Bearer TOKEN (default $%s, which keeps it
                 out of the process list); create a key with
                 'server keys create --name NAME --scopes LIST'
  --json         print the response JSON instead of text; errors too, on
                 stdout, as {"error":{"code":…,"message":…}}: the API's own,
                 or one of USAGE, UNREACHABLE, UNEXPECTED_RESPONSE,
                 INTERRUPTED, CLIENT_ERROR

settle version (or --version) prints the version.
Exit status: 0 ok, 1 API or network error, 2 usage error, 3 credential missing
or refused (HTTP 401), 4 credential lacks a scope or binding (HTTP 403),
130 interrupted.
Run 'settle help <command>' or 'settle <command> -h' for a command's flags.
`, urlEnv, defaultURL, tokenEnv)
}

func printGroupUsage(w io.Writer, group string) {
	fmt.Fprintf(w, "Usage: settle %s <command> [flags] [arguments]\n\nCommands:\n", group)
	for _, c := range commands {
		if strings.HasPrefix(c.name, group+" ") {
			fmt.Fprintf(w, "  %-16s %s\n  %-16s e.g. %s\n", c.name, c.args, "", c.example)
		}
	}
}

func printCommandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: settle %s %s\n\n%s.\n\nExample:\n  %s\n\nFlags:\n", c.name, c.args, upperFirst(c.summary), c.example)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
