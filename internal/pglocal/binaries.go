package pglocal

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNoBinaries reports that the PostgreSQL server binaries (initdb, pg_ctl
// and postgres) could not be found. Errors returned by [FindBinaries] and
// [Start] wrap it together with instructions for fixing the problem; test with
// errors.Is.
var ErrNoBinaries = errors.New("pglocal: PostgreSQL server binaries (initdb, pg_ctl, postgres) not found")

// binDirEnv names the environment variable that, when set, overrides the
// search for the PostgreSQL binaries.
const binDirEnv = "PG_BIN_DIR"

// requiredBinaries are the executables a binary directory must hold.
var requiredBinaries = []string{"initdb", "pg_ctl", "postgres"}

// FindBinaries returns the directory holding the initdb, pg_ctl and postgres
// executables. It looks, in order, at the directory named by the PG_BIN_DIR
// environment variable (if set, it must be valid), at pg_ctl and initdb on
// PATH (following symlinks to the real installation directory), at the
// highest-versioned /usr/lib/postgresql/*/bin (Debian, Ubuntu), at
// /usr/local/pgsql/bin (source installs), and finally at the highest-versioned
// /usr/pgsql-*/bin (RHEL, Fedora) and Homebrew postgresql@* directories. The
// error, if any, wraps [ErrNoBinaries].
func FindBinaries() (dir string, err error) {
	return defaultSearch().find()
}

// binarySearch describes where to look for the PostgreSQL binaries; it exists
// so that tests can search a fake tree.
type binarySearch struct {
	envDir   string                            // value of PG_BIN_DIR; "" when unset
	lookPath func(file string) (string, error) // exec.LookPath, or nil to skip PATH
	first    []string                          // versioned globs tried after PATH
	fixed    []string                          // plain directories tried next
	last     []string                          // versioned globs tried at the end
}

// defaultSearch is the search FindBinaries performs.
func defaultSearch() binarySearch {
	return binarySearch{
		envDir:   os.Getenv(binDirEnv),
		lookPath: exec.LookPath,
		first:    []string{"/usr/lib/postgresql/*/bin"},
		fixed:    []string{"/usr/local/pgsql/bin"},
		last: []string{
			"/usr/pgsql-*/bin",
			"/opt/homebrew/opt/postgresql@*/bin",
			"/usr/local/opt/postgresql@*/bin",
		},
	}
}

// find runs the search.
func (s binarySearch) find() (string, error) {
	if s.envDir != "" {
		dir, err := filepath.Abs(s.envDir)
		if err != nil {
			return "", fmt.Errorf("%w: resolve %s=%q: %w", ErrNoBinaries, binDirEnv, s.envDir, err)
		}
		if missing := missingBinaries(dir); len(missing) > 0 {
			return "", fmt.Errorf("%w: %s=%q lacks %s; point it at the bin directory of a PostgreSQL server installation or unset it",
				ErrNoBinaries, binDirEnv, s.envDir, strings.Join(missing, ", "))
		}
		return dir, nil
	}

	searched := []string{}
	if s.lookPath != nil {
		searched = append(searched, "pg_ctl and initdb on $PATH")
		for _, name := range []string{"pg_ctl", "initdb"} {
			if dir, ok := dirOnPath(s.lookPath, name); ok {
				return dir, nil
			}
		}
	}
	for _, pattern := range s.first {
		searched = append(searched, pattern)
		if dir, ok := highestVersioned(pattern); ok {
			return dir, nil
		}
	}
	for _, dir := range s.fixed {
		searched = append(searched, dir)
		if len(missingBinaries(dir)) == 0 {
			return dir, nil
		}
	}
	for _, pattern := range s.last {
		searched = append(searched, pattern)
		if dir, ok := highestVersioned(pattern); ok {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w (searched %s): install the PostgreSQL server package "+
		"(e.g. `apt-get install postgresql` on Debian/Ubuntu, `brew install postgresql@15` on macOS) "+
		"or set %s to its bin directory; or set DATABASE_URL to an existing server; "+
		"or run `docker compose up -d postgres` and set DATABASE_URL accordingly",
		ErrNoBinaries, strings.Join(searched, ", "), binDirEnv)
}

// dirOnPath finds name on PATH and returns the real directory holding it,
// provided that directory holds all required binaries.
func dirOnPath(lookPath func(string) (string, error), name string) (string, bool) {
	p, err := lookPath(name)
	if err != nil {
		return "", false
	}
	if p, err = filepath.Abs(p); err != nil {
		return "", false
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", false
	}
	dir := filepath.Dir(real)
	if len(missingBinaries(dir)) > 0 {
		return "", false
	}
	return dir, true
}

// highestVersioned expands pattern, which contains exactly one "*" standing
// for a version number, and returns the match with the highest version that
// holds all required binaries.
func highestVersioned(pattern string) (string, bool) {
	prefix, suffix, ok := strings.Cut(pattern, "*")
	if !ok {
		return "", false
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return "", false
	}
	type candidate struct {
		dir     string
		version []int
	}
	var found []candidate
	for _, m := range matches {
		v, ok := parseVersion(strings.TrimSuffix(strings.TrimPrefix(m, prefix), suffix))
		if !ok || len(missingBinaries(m)) > 0 {
			continue
		}
		found = append(found, candidate{dir: m, version: v})
	}
	if len(found) == 0 {
		return "", false
	}
	best := slices.MaxFunc(found, func(a, b candidate) int { return slices.Compare(a.version, b.version) })
	return best.dir, true
}

// parseVersion parses a dotted version such as "15" or "9.6".
func parseVersion(s string) ([]int, bool) {
	if s == "" {
		return nil, false
	}
	var v []int
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

// missingBinaries lists the required binaries that dir does not hold as
// executable files.
func missingBinaries(dir string) []string {
	var missing []string
	for _, name := range requiredBinaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	return missing
}
