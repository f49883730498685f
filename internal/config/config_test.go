package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestFromEnvDefaults(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.SettlementDir != "" || c.ResultRetention != 30*24*time.Hour || c.ShutdownDelay != 0 || !c.Migrate || c.LogFormat != "text" || c.LogLevel != "info" {
		t.Errorf("defaults = %+v", c)
	}
	// The settings of other packages stay zero: those packages' defaults apply.
	if c.Workers != 0 || c.BatchSize != 0 || c.SettlementDir != "" || c.JobLease != 0 || c.RequestTimeout != 0 ||
		c.MaxInFlight != 0 || c.DBMaxConns != 0 || c.OrderCommitters != 0 || c.OrderBatchSize != 0 || c.OrderQueueSize != 0 {
		t.Errorf("defaults = %+v; want zero for the settings other packages own", c)
	}
	if !c.UsesLocalDB() || c.ConfiguredDSN() != "" {
		t.Errorf("with nothing set the local database is used; got DSN %q", c.ConfiguredDSN())
	}
}

func TestConfiguredDSN(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"DATABASE_URL wins", map[string]string{"DATABASE_URL": "postgres://u@h/db", "DB_HOST": "other"}, "postgres://u@h/db"},
		{"DB_* with defaults", map[string]string{"DB_HOST": "db"}, "postgres://postgres@db:5432/ordersettle?sslmode=disable"},
		{"DB_* escaped", map[string]string{"DB_HOST": "db", "DB_PORT": "6543", "DB_USER": "app", "DB_PASSWORD": "p@ss/w:rd", "DB_NAME": "backendtest", "DB_SSLMODE": "require"},
			"postgres://app:p%40ss%2Fw%3Ard@db:6543/backendtest?sslmode=require"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromEnv(env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ConfiguredDSN(); got != tc.want {
				t.Errorf("DSN = %q, want %q", got, tc.want)
			}
			if c.UsesLocalDB() {
				t.Error("a configured database must not start the local one")
			}
		})
	}
}

func TestFromEnvRejectsBadValues(t *testing.T) {
	_, err := FromEnv(env(map[string]string{
		"PORT": "http", "WORKERS": "0", "BATCH_SIZE": "-5", "MIGRATE": "maybe",
		"REQUEST_TIMEOUT": "soon", "JOB_LEASE": "10ms", "LOG_LEVEL": "loud", "LOG_FORMAT": "xml",
	}))
	if err == nil {
		t.Fatal("bad values were accepted")
	}
	for _, name := range []string{"PORT", "WORKERS", "BATCH_SIZE", "MIGRATE", "REQUEST_TIMEOUT", "JOB_LEASE", "LOG_LEVEL", "LOG_FORMAT"} {
		if !strings.Contains(err.Error(), name+"=") {
			t.Errorf("the error does not name %s: %v", name, err)
		}
	}
}

// TestFromEnvOrderCommitter: the order committer's variables are read and
// refuse values out of range.
func TestFromEnvOrderCommitter(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"ORDER_COMMITTERS": "4", "ORDER_BATCH_SIZE": "64", "ORDER_QUEUE_SIZE": "100"}))
	if err != nil || c.OrderCommitters != 4 || c.OrderBatchSize != 64 || c.OrderQueueSize != 100 {
		t.Errorf("set: committers %d, batch %d, queue %d, err %v", c.OrderCommitters, c.OrderBatchSize, c.OrderQueueSize, err)
	}
	_, err = FromEnv(env(map[string]string{"ORDER_COMMITTERS": "0", "ORDER_BATCH_SIZE": "many", "ORDER_QUEUE_SIZE": "-1"}))
	for _, name := range []string{"ORDER_COMMITTERS", "ORDER_BATCH_SIZE", "ORDER_QUEUE_SIZE"} {
		if err == nil || !strings.Contains(err.Error(), name+"=") {
			t.Errorf("the error does not name %s: %v", name, err)
		}
	}
}

// TestVarsListsEveryVariable: the usage text (Vars) names exactly the
// variables FromEnv reads, and its defaults are the ones FromEnv applies.
func TestVarsListsEveryVariable(t *testing.T) {
	var read []string
	if _, err := FromEnv(func(name string) string { read = append(read, name); return "" }); err != nil {
		t.Fatal(err)
	}
	var listed []string
	defaults := map[string]string{}
	for _, v := range Vars {
		listed = append(listed, v.Name)
		defaults[v.Name] = v.Default
	}
	slices.Sort(read)
	slices.Sort(listed)
	if !slices.Equal(slices.Compact(read), listed) {
		t.Errorf("FromEnv reads %v\nVars lists   %v", slices.Compact(read), listed)
	}

	// Setting every variable to its listed default changes nothing.
	want, _ := FromEnv(env(nil))
	got, err := FromEnv(env(defaults))
	if err != nil {
		t.Fatalf("the listed defaults are not accepted: %v", err)
	}
	if got != want {
		t.Errorf("with the listed defaults set: %+v\nwith nothing set:            %+v", got, want)
	}
}

// TestREADMEListsEveryVariable: the README's configuration table has a row
// for every variable, with its default (cmd/server's test checks the
// defaults other packages own).
func TestREADMEListsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for line := range strings.SplitSeq(string(readme), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue // not a row of the configuration table
		}
		for _, name := range strings.Fields(strings.ReplaceAll(cells[1], "`", "")) {
			rows[name] = strings.TrimSpace(cells[2])
		}
	}
	for _, v := range Vars {
		row, ok := rows[v.Name]
		switch {
		case !ok:
			t.Errorf("README has no row for %s", v.Name)
		case v.Name == "LOCAL_PG_DIR": // the default depends on the machine
			if !strings.Contains(row, "ordersettle/<install>/pgdata") {
				t.Errorf("README: the LOCAL_PG_DIR row does not describe its default: %q", row)
			}
		case v.Default != "" && !strings.Contains(row, "`"+v.Default+"`"):
			t.Errorf("README: %s defaults to %q; its row says %q", v.Name, v.Default, row)
		}
	}
}

// TestWriteVars: the usage table has a line per variable with its default.
func TestWriteVars(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteVars(&buf, Vars); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(Vars) {
		t.Fatalf("%d lines for %d variables:\n%s", len(lines), len(Vars), buf.String())
	}
	for i, v := range Vars {
		f := strings.Fields(lines[i])
		if v.Default == "" {
			v.Default = "-"
		}
		if len(f) < 3 || f[0] != v.Name || f[1] != v.Default {
			t.Errorf("line %q, want %s %s …", lines[i], v.Name, v.Default)
		}
	}
}

// TestNewLoggerJSON: LOG_FORMAT=json makes every line one JSON object, at
// LOG_LEVEL.
func TestNewLoggerJSON(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"LOG_FORMAT": "json", "LOG_LEVEL": "warn"}))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := NewLogger(c, &buf)
	log.Info("hidden")
	log.Warn("shown", "k", "v")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON object: %q: %v", buf.String(), err)
	}
	if rec["msg"] != "shown" || rec["k"] != "v" || rec["level"] != "WARN" {
		t.Errorf("record = %v", rec)
	}
}

// TestDefaultLocalPGDir: the local database's default directory is absolute
// (it does not depend on the working directory) and differs between
// installations.
func TestDefaultLocalPGDir(t *testing.T) {
	if !filepath.IsAbs(DefaultLocalPGDir) || filepath.Base(DefaultLocalPGDir) != "pgdata" {
		t.Errorf("DefaultLocalPGDir = %q; want an absolute …/pgdata", DefaultLocalPGDir)
	}
	a, b := installKey("/opt/shop-a/bin"), installKey("/opt/shop-b/bin")
	if a == b || !strings.HasPrefix(a, "shop-a-") || !strings.HasPrefix(b, "shop-b-") {
		t.Errorf("install keys %q and %q: want distinct, named after the installation", a, b)
	}
	if k := installKey("/home/u/src/x/bin"); k != installKey("/home/u/src/x/bin") {
		t.Error("the install key is not stable")
	}
	for _, dir := range []string{"/tmp/go-build123/b001/exe", "/root/.cache/go-build/ab/cdef"} {
		if k := installKey(dir); k != "go-run" {
			t.Errorf("installKey(%q) = %q; want go-run", dir, k)
		}
	}
	if k := installKey("/we ird/../bin"); strings.ContainsAny(k, " /") {
		t.Errorf("installKey kept unsafe characters: %q", k)
	}
}
