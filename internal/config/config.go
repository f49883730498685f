// Package config reads the service's configuration from the environment.
// Vars lists every variable it reads with its meaning, and the default of
// the settings this package owns. It imports nothing of the application, so
// that every command can use it without linking the server: a setting that
// belongs to a package (settlement, server, ordercommit, store) is left at
// its zero value when unset, which that package reads as its own exported
// default, and its Var has no Default here (the server's usage text shows
// the package's default).
package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is the environment of the service's commands. Field comments name
// the variable; Vars has the defaults. Fields of settings owned by another
// package are zero when unset: that package's default applies.
type Config struct {
	// DatabaseURL (DATABASE_URL) wins over the DB_* variables when set.
	DatabaseURL string
	// DBHost (DB_HOST); when neither it nor DATABASE_URL is set, a local
	// PostgreSQL cluster is started in LocalPGDir.
	DBHost     string
	DBPort     int    // DB_PORT
	DBUser     string // DB_USER
	DBPassword string // DB_PASSWORD
	DBName     string // DB_NAME
	DBSSLMode  string // DB_SSLMODE: lib/pq sslmode for DB_HOST
	// DBMaxConns (DB_MAX_CONNS) caps this process's database connections.
	DBMaxConns int

	Port int // PORT

	Workers   int // WORKERS: settlement worker goroutines
	BatchSize int // BATCH_SIZE: transactions per settlement batch
	// SettlementDir (SETTLEMENT_DIR, optional): results live in the
	// database; CSV files found here (from earlier versions) are imported.
	SettlementDir string
	// JobLease (JOB_LEASE): a running job whose server stops renewing it for
	// this long (the process died) is run again by another server.
	JobLease time.Duration

	// OrderCommitters (ORDER_COMMITTERS) is how many order batches are
	// committed at once.
	OrderCommitters int
	// OrderBatchSize (ORDER_BATCH_SIZE) is the most orders one batch (one
	// transaction) holds.
	OrderBatchSize int
	// OrderQueueSize (ORDER_QUEUE_SIZE) is how many orders may wait for a
	// committer; more are answered 503 at once.
	OrderQueueSize int

	// Migrate (MIGRATE) applies the schema migrations at server start.
	Migrate bool
	// MaxInFlight (MAX_IN_FLIGHT) caps the API requests served at once.
	MaxInFlight int
	// RequestTimeout (REQUEST_TIMEOUT) bounds each API request.
	RequestTimeout time.Duration
	// LocalPGDir (LOCAL_PG_DIR) holds the local cluster's data.
	LocalPGDir string
	// LogLevel (LOG_LEVEL): debug, info, warn or error.
	LogLevel string
	// LogFormat (LOG_FORMAT): text, or json for one JSON object per line.
	LogFormat string

	// Access control.

	// AuthJWKSURL (AUTH_JWKS_URL) turns on JWTs signed by the keys published
	// there; AuthJWTIssuer (AUTH_JWT_ISSUER) and AuthJWTAudience
	// (AUTH_JWT_AUDIENCE) are then required.
	AuthJWKSURL     string
	AuthJWTIssuer   string
	AuthJWTAudience string
	// RateLimit (RATE_LIMIT) is a credential's rate limit in requests per
	// second unless its key sets one; 0 means none, -1 (unset) the server's
	// default.
	RateLimit int
	// CORSAllowedOrigins (CORS_ALLOWED_ORIGINS) is a comma-separated list of
	// the browser origins allowed to call the API; empty turns CORS off.
	// CORSOrigins splits it.
	CORSAllowedOrigins string

	// Settlement you can trust (results in the database, graceful drain).

	// ResultRetention (RESULT_RETENTION) is how long a completed job's CSV
	// is kept in the database; 0 keeps it forever. After it, 410 FILE_GONE.
	ResultRetention time.Duration
	// ShutdownDelay (SHUTDOWN_DELAY) is how long, after SIGTERM, /readyz
	// answers 503 while requests are still served, before the listener
	// closes.
	ShutdownDelay time.Duration
}

// CORSOrigins returns the origins of CORSAllowedOrigins.
func (c Config) CORSOrigins() []string {
	var origins []string
	for o := range strings.SplitSeq(c.CORSAllowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, strings.TrimSuffix(o, "/"))
		}
	}
	return origins
}

// Defaults of the settings that belong to no other package.
const (
	defaultDBPort    = 5432
	defaultDBUser    = "postgres"
	defaultDBName    = "ordersettle"
	defaultDBSSLMode = "disable"
	defaultPort      = 8080
	defaultMigrate   = true
	defaultLogLevel  = "info"
	defaultLogFormat = "text"
)

// Var documents an environment variable that FromEnv reads.
type Var struct {
	Name string
	// Default is the default of a setting this package owns; empty for a
	// setting unset by default or owned by another package.
	Default string
	Meaning string
	// Owner names the package whose exported default applies when the
	// variable is unset ("" for this package's own settings).
	Owner string
}

// Vars lists every variable FromEnv reads, with its default and meaning, in
// the order the server's usage text shows them.
var Vars = []Var{
	{"DATABASE_URL", "", "PostgreSQL URL; wins over the DB_* variables", ""},
	{"DB_HOST", "", "database host when DATABASE_URL is unset; with neither, a local PostgreSQL is started in LOCAL_PG_DIR", ""},
	{"DB_PORT", strconv.Itoa(defaultDBPort), "database port", ""},
	{"DB_USER", defaultDBUser, "database user", ""},
	{"DB_PASSWORD", "", "database password", ""},
	{"DB_NAME", defaultDBName, "database name", ""},
	{"DB_SSLMODE", defaultDBSSLMode, "lib/pq sslmode for DB_HOST", ""},
	{"DB_MAX_CONNS", "", "database connections this process opens; beyond it work waits", "store"},
	{"PORT", strconv.Itoa(defaultPort), "HTTP port", ""},
	{"WORKERS", "", "settlement worker goroutines", "settlement"},
	{"BATCH_SIZE", "", "transactions per settlement batch (about)", "settlement"},
	{"SETTLEMENT_DIR", "", "optional: results live in the database; <job_id>.csv files found here (earlier versions) are imported at start", ""},
	{"JOB_LEASE", "", "a running job not renewed this long (its server died) is run again", "settlement"},
	{"REQUEST_TIMEOUT", "", "bound on each API request, database waits included (then 503)", "server"},
	{"MAX_IN_FLIGHT", "", "API requests served at once; more are answered 503 at once", "server"},
	{"ORDER_COMMITTERS", "", "order batches committed at once", "ordercommit"},
	{"ORDER_BATCH_SIZE", "", "most orders one batch (one transaction) holds", "ordercommit"},
	{"ORDER_QUEUE_SIZE", "", "orders that may wait for a committer; more are answered 503 at once", "ordercommit"},
	{"MIGRATE", strconv.FormatBool(defaultMigrate), "apply the schema migrations at start", ""},
	{"LOCAL_PG_DIR", DefaultLocalPGDir, "data directory of the local PostgreSQL (this installation's own, whatever the working directory)", ""},
	{"LOG_LEVEL", defaultLogLevel, "debug, info, warn or error", ""},
	{"LOG_FORMAT", defaultLogFormat, "text, or json (one JSON object per line)", ""},
	// Access control.
	{"AUTH_JWKS_URL", "", "accept JWTs (RS256, ES256) signed by the keys of this JWK Set; needs the two below", ""},
	{"AUTH_JWT_ISSUER", "", "the JWTs' iss (required with AUTH_JWKS_URL)", ""},
	{"AUTH_JWT_AUDIENCE", "", "a value the JWTs' aud must hold (required with AUTH_JWKS_URL)", ""},
	{"RATE_LIMIT", "", "requests per second per credential unless its key sets one; 0 = no limit", "server"},
	{"CORS_ALLOWED_ORIGINS", "", "comma-separated browser origins allowed to call the API (CORS); empty = CORS off", ""},
	// Settlement you can trust.
	{"RESULT_RETENTION", DefaultResultRetention.String(), "how long a completed job's CSV is kept (then 410 FILE_GONE); 0 keeps it forever", ""},
	{"SHUTDOWN_DELAY", DefaultShutdownDelay.String(), "after SIGTERM, /readyz answers 503 this long while requests are still served, then the listener closes", ""},
}

// Defaults of the settlement results and the graceful drain.
const (
	// DefaultResultRetention keeps results 30 days.
	DefaultResultRetention = 30 * 24 * time.Hour
	// DefaultShutdownDelay: no delay (a local run stops at once); behind a
	// load balancer, set it to the time the balancer takes to see /readyz
	// fail.
	DefaultShutdownDelay = time.Duration(0)
)

// FromEnv reads the configuration with getenv (os.Getenv in production).
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		DatabaseURL:   getenv("DATABASE_URL"),
		DBHost:        getenv("DB_HOST"),
		DBUser:        orDefault(getenv("DB_USER"), defaultDBUser),
		DBPassword:    getenv("DB_PASSWORD"),
		DBName:        orDefault(getenv("DB_NAME"), defaultDBName),
		DBSSLMode:     orDefault(getenv("DB_SSLMODE"), defaultDBSSLMode),
		SettlementDir: getenv("SETTLEMENT_DIR"),
		LocalPGDir:    orDefault(getenv("LOCAL_PG_DIR"), DefaultLocalPGDir),
		LogLevel:      orDefault(getenv("LOG_LEVEL"), defaultLogLevel),
		LogFormat:     orDefault(getenv("LOG_FORMAT"), defaultLogFormat),
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
	c.DBPort = intVar("DB_PORT", defaultDBPort, 1, 65535)
	c.DBMaxConns = intVar("DB_MAX_CONNS", 0, 2, 1000)
	c.Port = intVar("PORT", defaultPort, 0, 65535)
	c.Workers = intVar("WORKERS", 0, 1, 256)
	c.BatchSize = intVar("BATCH_SIZE", 0, 100, 1_000_000)
	c.MaxInFlight = intVar("MAX_IN_FLIGHT", 0, 1, 1_000_000)
	c.OrderCommitters = intVar("ORDER_COMMITTERS", 0, 1, 64)
	c.OrderBatchSize = intVar("ORDER_BATCH_SIZE", 0, 1, 10_000)
	c.OrderQueueSize = intVar("ORDER_QUEUE_SIZE", 0, 1, 1_000_000)

	c.Migrate = defaultMigrate
	if v := getenv("MIGRATE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("MIGRATE=%q: want true or false", v))
		}
		c.Migrate = b
	}
	durationVar := func(name string, minimum, example time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return 0
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < minimum {
			errs = append(errs, fmt.Sprintf("%s=%q: want a duration of at least %s, such as %s", name, v, minimum, example))
			return 0
		}
		return d
	}
	c.RequestTimeout = durationVar("REQUEST_TIMEOUT", time.Millisecond, 10*time.Second)
	c.JobLease = durationVar("JOB_LEASE", time.Second, 15*time.Second)
	c.AuthJWKSURL = getenv("AUTH_JWKS_URL")
	c.AuthJWTIssuer = getenv("AUTH_JWT_ISSUER")
	c.AuthJWTAudience = getenv("AUTH_JWT_AUDIENCE")
	if c.AuthJWKSURL != "" {
		if u, err := url.Parse(c.AuthJWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Sprintf("AUTH_JWKS_URL=%q: want an http(s) URL", c.AuthJWKSURL))
		}
		if c.AuthJWTIssuer == "" || c.AuthJWTAudience == "" {
			errs = append(errs, "AUTH_JWKS_URL is set: AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE are required too")
		}
	}
	// -1 when unset: the server's default applies (0 means no limit).
	c.RateLimit = intVar("RATE_LIMIT", -1, 0, 100_000)
	c.CORSAllowedOrigins = getenv("CORS_ALLOWED_ORIGINS")
	c.ResultRetention = DefaultResultRetention
	if getenv("RESULT_RETENTION") != "" {
		c.ResultRetention = durationVar("RESULT_RETENTION", 0, 720*time.Hour)
	}
	c.ShutdownDelay = durationVar("SHUTDOWN_DELAY", 0, 5*time.Second)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Sprintf("LOG_LEVEL=%q: want debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Sprintf("LOG_FORMAT=%q: want text or json", c.LogFormat))
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
