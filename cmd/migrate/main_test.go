package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "github.com/lib/pq" // the "postgres" driver, to look at the database

	"github.com/ordersettle/ordersettle/internal/clitest"
	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/migrations"
)

func TestMain(m *testing.M) {
	clitest.RunMainIfChild(main)
	dbtest.Main(m)
}

// TestVersionCommand: `migrate version` keeps its meaning, the schema's
// version; --version prints the program's.
func TestVersionCommand(t *testing.T) {
	t.Parallel()
	dsn := dbtest.NewDSN(t)
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, _, err := migrations.Version(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	r := clitest.Run(t, []string{"DATABASE_URL=" + dsn}, "version")
	if want := fmt.Sprintf("schema version %d (clean)\n", v); r.Code != 0 || r.Stdout != want {
		t.Errorf("migrate version: exit %d, stdout %q (want %q), stderr %q", r.Code, r.Stdout, want, r.Stderr)
	}
	r = clitest.Run(t, []string{"DATABASE_URL=" + dsn}, "--version")
	if r.Code != 0 || !regexp.MustCompile(`^migrate \S+ \(\S+, go\S+\)\n$`).MatchString(r.Stdout) {
		t.Errorf("migrate --version: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

// TestUsageDoesNothing: help prints the usage and exits 0, wrong arguments
// exit 2 with the usage on stderr; neither touches the database (its
// schema stays) nor starts a local PostgreSQL.
func TestUsageDoesNothing(t *testing.T) {
	t.Parallel()
	dsn := dbtest.NewDSN(t)
	pgDir := filepath.Join(t.TempDir(), "pg")
	type usageCase struct {
		args []string
		env  []string
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
		{[]string{"down", "-h"}, 0},
		{[]string{}, 2},
		{[]string{"-x"}, 2},
		{[]string{"sideways"}, 2},
		{[]string{"up", "extra"}, 2},
		{[]string{"down", "-yes", "now"}, 2},
		{[]string{"--version", "up"}, 2},
		{[]string{"down"}, 1}, // refuses without -yes
	} {
		for _, env := range [][]string{
			{"DATABASE_URL=" + dsn},
			{"DATABASE_URL=", "DB_HOST=", "LOCAL_PG_DIR=" + pgDir},
		} {
			cases = append(cases, usageCase{tc.args, env, tc.code})
		}
	}
	t.Run("commands", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
				t.Parallel()
				r := clitest.Run(t, tc.env, tc.args...)
				switch {
				case r.Code != tc.code:
					t.Errorf("migrate %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, r.Code, tc.code, r.Stdout, r.Stderr)
				case tc.code == 0 && (!strings.HasPrefix(r.Stdout, "usage: migrate") || r.Stderr != ""):
					t.Errorf("migrate %v: stdout %q, stderr %q; want the usage on stdout", tc.args, r.Stdout, r.Stderr)
				case tc.code == 2 && (r.Stdout != "" || !strings.Contains(r.Stderr, "usage: migrate")):
					t.Errorf("migrate %v: stdout %q, stderr %q; want the usage on stderr", tc.args, r.Stdout, r.Stderr)
				}
			})
		}
	})
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`SELECT count(*) FROM products`); err != nil {
		t.Errorf("the schema is gone: %v", err)
	}
	if _, err := os.Stat(pgDir); !os.IsNotExist(err) {
		t.Errorf("a local PostgreSQL was started in %s (%v)", pgDir, err)
	}
}
