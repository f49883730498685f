package config

import (
	"strings"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/ordercommit"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestFromEnvDefaults(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.Workers != 8 || c.BatchSize != 10000 || c.SettlementDir != "/tmp/settlements" ||
		!c.Migrate || c.RequestTimeout != 10*time.Second || c.JobLease != 15*time.Second || c.DBMaxConns != 32 {
		t.Errorf("defaults = %+v", c)
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
		"REQUEST_TIMEOUT": "soon", "JOB_LEASE": "10ms", "LOG_LEVEL": "loud",
	}))
	if err == nil {
		t.Fatal("bad values were accepted")
	}
	for _, name := range []string{"PORT", "WORKERS", "BATCH_SIZE", "MIGRATE", "REQUEST_TIMEOUT", "JOB_LEASE", "LOG_LEVEL"} {
		if !strings.Contains(err.Error(), name+"=") {
			t.Errorf("the error does not name %s: %v", name, err)
		}
	}
}

// TestFromEnvOrderCommitter: the order committer's variables default to the
// committer's own defaults and refuse values out of range.
func TestFromEnvOrderCommitter(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.OrderCommitters != ordercommit.DefaultCommitters || c.OrderBatchSize != ordercommit.DefaultMaxBatch ||
		c.OrderQueueSize != ordercommit.DefaultQueueSize {
		t.Errorf("defaults: committers %d, batch %d, queue %d", c.OrderCommitters, c.OrderBatchSize, c.OrderQueueSize)
	}
	c, err = FromEnv(env(map[string]string{"ORDER_COMMITTERS": "4", "ORDER_BATCH_SIZE": "64", "ORDER_QUEUE_SIZE": "100"}))
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
