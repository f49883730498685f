// Package pglocal starts and stops a private PostgreSQL cluster from the locally
// installed server binaries (initdb, pg_ctl, postgres), so that development
// (`make run`) and the test suite need neither Docker nor a system-wide
// PostgreSQL service.
//
// [Start] initialises the data directory with initdb the first time it is
// used (superuser "postgres", trust authentication, UTF8, C locale), writes
// the launcher's settings to DataDir/pglocal.conf on every start (included
// from postgresql.conf, so changes to [Config] take effect on the next
// start), launches the server with pg_ctl on 127.0.0.1 only (no Unix-domain
// socket) and waits until it accepts TCP connections. [Cluster.Stop] shuts it
// down again with a fast shutdown.
//
// If the data directory is already being served by a running postmaster,
// Start reuses that server instead of starting a second one; the returned
// Cluster is then not owned ([Cluster.Owned] reports false) and Stop leaves it
// running.
//
// Durable clusters keep fsync, synchronous_commit and full_page_writes on and
// are meant for data that should survive a crash; non-durable clusters turn
// all three off, which makes throw-away test clusters much faster.
//
// PostgreSQL refuses to run as root. When the calling process runs as root,
// initdb and pg_ctl are run as the owner of an already initialised data
// directory, or else as the "postgres" user (falling back to "nobody"); the
// data directory is chowned to that user, and every directory above it must
// be traversable by that user.
//
// The server's log is written to DataDir/postgresql.log. The package uses the
// standard library only; it does not talk SQL.
package pglocal
