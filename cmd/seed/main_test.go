package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "github.com/lib/pq" // the "postgres" driver, to count rows

	"github.com/ordersettle/ordersettle/internal/clitest"
	"github.com/ordersettle/ordersettle/internal/dbtest"
)

func TestMain(m *testing.M) {
	clitest.RunMainIfChild(main)
	dbtest.Main(m)
}

// TestSeedAndUsage: seed loads the rows it is asked for; then help, version
// and wrong arguments change nothing (the row count stays) and exit 0, 0
// and 2.
func TestSeedAndUsage(t *testing.T) {
	t.Parallel()
	dsn := dbtest.NewDSN(t)
	env := []string{"DATABASE_URL=" + dsn}
	r := clitest.Run(t, env, "-n", "50", "-quiet")
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "loaded 50 transactions") {
		t.Fatalf("seed -n 50: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func() (transactions, products int) {
		t.Helper()
		if err := db.QueryRow(`SELECT (SELECT count(*) FROM transactions), (SELECT count(*) FROM products)`).Scan(&transactions, &products); err != nil {
			t.Fatal(err)
		}
		return transactions, products
	}
	if txns, products := count(); txns != 50 || products != 5 {
		t.Fatalf("after seed -n 50: %d transactions, %d products", txns, products)
	}

	version := regexp.MustCompile(`^seed \S+ \(\S+, go\S+\)\n$`)
	type usageCase struct {
		args []string
		code int
	}
	var cases []usageCase
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-h"}, 0},
		{[]string{"--help"}, 0},
		{[]string{"help"}, 0},
		{[]string{"--version"}, 0},
		{[]string{"version"}, 0},
		{[]string{"-x"}, 2},
		{[]string{"now"}, 2},
		{[]string{"-n", "5", "help"}, 2},
		{[]string{"-n", "many"}, 2},
		{[]string{"-n", "-1"}, 2},
		{[]string{"-from", "January"}, 2},
		{[]string{"-from", "2025-02-01", "-to", "2025-01-01"}, 2},
		{[]string{"-merchants", "0"}, 2},
	} {
		cases = append(cases, usageCase{tc.args, tc.code})
	}
	t.Run("commands", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
				t.Parallel()
				r := clitest.Run(t, env, tc.args...)
				isVersion := strings.Contains(strings.Join(tc.args, " "), "version")
				switch {
				case r.Code != tc.code:
					t.Errorf("seed %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, r.Code, tc.code, r.Stdout, r.Stderr)
				case tc.code == 0 && isVersion && !version.MatchString(r.Stdout):
					t.Errorf("seed %v: stdout %q, want the version", tc.args, r.Stdout)
				case tc.code == 0 && !isVersion && (!strings.HasPrefix(r.Stdout, "usage: seed") || r.Stderr != ""):
					t.Errorf("seed %v: stdout %q, stderr %q; want the usage on stdout", tc.args, r.Stdout, r.Stderr)
				case tc.code == 2 && (r.Stdout != "" || !strings.HasPrefix(r.Stderr, "seed: ") || !strings.Contains(r.Stderr, "usage: seed")):
					t.Errorf("seed %v: stdout %q, stderr %q; want the problem and the usage on stderr", tc.args, r.Stdout, r.Stderr)
				}
			})
		}
	})
	if txns, products := count(); txns != 50 || products != 5 {
		t.Fatalf("help, version or wrong arguments changed the data: %d transactions, %d products", txns, products)
	}

	// Without a configured database, help does not start a local one.
	pgDir := filepath.Join(t.TempDir(), "pg")
	if r := clitest.Run(t, []string{"DATABASE_URL=", "DB_HOST=", "LOCAL_PG_DIR=" + pgDir}, "help"); r.Code != 0 {
		t.Errorf("seed help: exit %d: %s", r.Code, r.Stderr)
	}
	if _, err := os.Stat(pgDir); !os.IsNotExist(err) {
		t.Errorf("seed help started a local PostgreSQL in %s (%v)", pgDir, err)
	}
}
