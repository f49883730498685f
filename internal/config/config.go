// Package config reads the service's configuration from the environment and
// finds its database: DATABASE_URL, else DB_HOST and friends, else a private
// PostgreSQL cluster started from the locally installed binaries.
package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ordersettle/ordersettle/ordercommit"
)

// Config is the environment of the service's commands. Field comments name
// the variable and its default.
type Config struct {
	// DatabaseURL (DATABASE_URL) wins over the DB_* variables when set.
	DatabaseURL string
	// DBHost (DB_HOST); when neither it nor DATABASE_URL is set, a local
	// PostgreSQL cluster is started in LocalPGDir.
	DBHost     string
	DBPort     int    // DB_PORT, 5432
	DBUser     string // DB_USER, postgres
	DBPassword string // DB_PASSWORD, empty
	DBName     string // DB_NAME, ordersettle
	DBSSLMode  string // DB_SSLMODE, disable: lib/pq sslmode for DB_HOST
	// DBMaxConns (DB_MAX_CONNS, 32) caps this process's database connections.
	DBMaxConns int

	Port int // PORT, 8080

	Workers       int    // WORKERS, 8: settlement worker goroutines
	BatchSize     int    // BATCH_SIZE, 10000: transactions per settlement batch
	SettlementDir string // SETTLEMENT_DIR, /tmp/settlements: where settlement CSVs are written
	// JobLease (JOB_LEASE, 15s): a running job whose server stops renewing it
	// for this long (the process died) is run again by another server.
	JobLease time.Duration

	// OrderCommitters (ORDER_COMMITTERS, ordercommit.DefaultCommitters) is
	// how many order batches are committed at once.
	OrderCommitters int
	// OrderBatchSize (ORDER_BATCH_SIZE, ordercommit.DefaultMaxBatch) is the
	// most orders one batch (one transaction) holds.
	OrderBatchSize int
	// OrderQueueSize (ORDER_QUEUE_SIZE, ordercommit.DefaultQueueSize) is how
	// many orders may wait for a committer; more are answered 503 at once.
	OrderQueueSize int

	// Migrate (MIGRATE, true) applies the schema migrations at server start.
	Migrate bool
	// MaxInFlight (MAX_IN_FLIGHT, 1024) caps the API requests served at once.
	MaxInFlight int
	// RequestTimeout (REQUEST_TIMEOUT, 10s) bounds each API request.
	RequestTimeout time.Duration
	// LocalPGDir (LOCAL_PG_DIR, .pgdata) holds the local cluster's data.
	LocalPGDir string
	// LogLevel (LOG_LEVEL, info): debug, info, warn or error.
	LogLevel string
}

// FromEnv reads the configuration with getenv (os.Getenv in production).
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		DatabaseURL:   getenv("DATABASE_URL"),
		DBHost:        getenv("DB_HOST"),
		DBUser:        orDefault(getenv("DB_USER"), "postgres"),
		DBPassword:    getenv("DB_PASSWORD"),
		DBName:        orDefault(getenv("DB_NAME"), "ordersettle"),
		DBSSLMode:     orDefault(getenv("DB_SSLMODE"), "disable"),
		SettlementDir: orDefault(getenv("SETTLEMENT_DIR"), "/tmp/settlements"),
		LocalPGDir:    orDefault(getenv("LOCAL_PG_DIR"), ".pgdata"),
		LogLevel:      orDefault(getenv("LOG_LEVEL"), "info"),
	}
	var errs []string
	intVar := func(name string, def, minimum, maximum int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < minimum || n > maximum {
			errs = append(errs, fmt.Sprintf("%s=%q: want a whole number from %d to %d", name, v, minimum, maximum))
			return def
		}
		return n
	}
	c.DBPort = intVar("DB_PORT", 5432, 1, 65535)
	c.DBMaxConns = intVar("DB_MAX_CONNS", 32, 2, 1000)
	c.Port = intVar("PORT", 8080, 0, 65535)
	c.Workers = intVar("WORKERS", 8, 1, 256)
	c.BatchSize = intVar("BATCH_SIZE", 10000, 100, 1_000_000)
	c.MaxInFlight = intVar("MAX_IN_FLIGHT", 1024, 1, 1_000_000)
	c.OrderCommitters = intVar("ORDER_COMMITTERS", ordercommit.DefaultCommitters, 1, 64)
	c.OrderBatchSize = intVar("ORDER_BATCH_SIZE", ordercommit.DefaultMaxBatch, 1, 10_000)
	c.OrderQueueSize = intVar("ORDER_QUEUE_SIZE", ordercommit.DefaultQueueSize, 1, 1_000_000)

	c.Migrate = true
	if v := getenv("MIGRATE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("MIGRATE=%q: want true or false", v))
		}
		c.Migrate = b
	}
	durationVar := func(name string, def, minimum time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < minimum {
			errs = append(errs, fmt.Sprintf("%s=%q: want a duration of at least %s, such as %s", name, v, minimum, def))
			return def
		}
		return d
	}
	c.RequestTimeout = durationVar("REQUEST_TIMEOUT", 10*time.Second, time.Millisecond)
	c.JobLease = durationVar("JOB_LEASE", 15*time.Second, time.Second)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Sprintf("LOG_LEVEL=%q: want debug, info, warn or error", c.LogLevel))
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// UsesLocalDB reports whether no database is configured, so that a local
// cluster is to be started.
func (c Config) UsesLocalDB() bool { return c.DatabaseURL == "" && c.DBHost == "" }

// ConfiguredDSN is the database URL from DATABASE_URL or the DB_* variables;
// it is empty when UsesLocalDB.
func (c Config) ConfiguredDSN() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	if c.DBHost == "" {
		return ""
	}
	u := url.URL{
		Scheme:   "postgres",
		Host:     net.JoinHostPort(c.DBHost, strconv.Itoa(c.DBPort)),
		Path:     "/" + c.DBName,
		RawQuery: url.Values{"sslmode": {c.DBSSLMode}}.Encode(),
	}
	if c.DBPassword != "" {
		u.User = url.UserPassword(c.DBUser, c.DBPassword)
	} else {
		u.User = url.User(c.DBUser)
	}
	return u.String()
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
