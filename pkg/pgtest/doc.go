// Package pgtest starts throwaway PostgreSQL servers, and pgbouncer in front
// of them, for tests and benchmarks.
//
// Start runs initdb and the postmaster of the newest PostgreSQL found in
// /usr/lib/postgresql/<version>/bin as the postgres OS user, in a fresh
// temporary directory, listening on a loopback address only and on a free
// port. The unix socket lives in the same directory. Durability is switched
// off (fsync, synchronous_commit, full_page_writes) because the data is
// thrown away. Stop shuts the server down (pg_ctl stop -m fast, then signals
// to the postmaster PID recorded at start if that fails) and removes the
// directory.
//
// Every address is loopback: Start and StartBouncer refuse anything else,
// and pg_hba.conf only admits loopback clients.
//
// The core API takes a context and returns errors so that it can be used
// from a benchmark program; StartT and StartBouncerT wrap it for tests and
// register the Stop with t.Cleanup, so the servers go away even when the
// test fails.
//
// The process must be root (the commands then run with the postgres user's
// credentials) or the postgres user itself. Available reports whether Start
// can work; its error wraps ErrNotInstalled or ErrNotPermitted so that tests
// can decide to skip.
package pgtest
