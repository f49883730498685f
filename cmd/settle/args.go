package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
)

// dateLayout is the contract's date format.
const dateLayout = "2006-01-02"

// badUsage returns a usage error of the command being run; dispatch fills in
// the command's name.
func badUsage(format string, a ...any) error {
	return usageErrorf("", format, a...)
}

// parseDate parses the value of the date flag name.
func parseDate(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, badUsage("--%s is required (YYYY-MM-DD)", name)
	}
	t, err := time.Parse(dateLayout, v)
	if err != nil {
		return time.Time{}, badUsage("--%s %q is not a date in the form YYYY-MM-DD", name, v)
	}
	return t, nil
}

// oneID returns the single positional argument, parsed as the UUID of a kind
// of resource ("job", "order").
func oneID(kind string, args []string) (uuid.UUID, error) {
	switch {
	case len(args) == 0:
		return uuid.UUID{}, badUsage("missing the %s ID", kind)
	case len(args) > 1:
		return uuid.UUID{}, badUsage("want one %s ID, got %d arguments: %s", kind, len(args), strings.Join(args, " "))
	}
	id, err := uuid.Parse(args[0])
	if err != nil {
		return uuid.UUID{}, badUsage("%s ID %q is not a UUID (like 5d0c7e0a-4a8e-4b8a-9f5e-0f6f1d2c3b4a)", kind, args[0])
	}
	return id, nil
}

// noArgs checks that a command that takes only flags got no arguments.
func noArgs(args []string) error {
	if len(args) > 0 {
		return badUsage("unexpected argument %q (this command takes only flags)", args[0])
	}
	return nil
}

// intInRange checks the value of the integer flag name against lo..hi (both
// within int32) and narrows it to int32.
func intInRange(name string, v, lo, hi int64) (int32, error) {
	if v < lo || v > hi {
		return 0, badUsage("--%s %d is out of range %d..%d", name, v, lo, hi)
	}
	return int32(v), nil
}

// isSet reports whether the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// checkOutPath checks, before any request, that a file can be created at path:
// it is not a directory and its directory exists. "-" (stdout) is always fine.
func checkOutPath(path string) error {
	if path == "-" {
		return nil
	}
	if path == "" {
		return badUsage("--out needs a file name, or - for stdout")
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return badUsage("--out %s is a directory; name a file", path)
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return badUsage("--out %s: directory %s does not exist", path, dir)
	}
	return nil
}

// checkText checks a string flag against the contract's limits: 1..limit
// characters, not blank.
func checkText(name, v string, limit int) error {
	n := len([]rune(v))
	switch {
	case strings.TrimSpace(v) == "":
		return badUsage("--%s is required and must not be blank", name)
	case n > limit:
		return badUsage("--%s is %d characters; at most %d are allowed", name, n, limit)
	}
	return nil
}
