// Package record is the session recording store: one recording per
// intercepted session, written before what it records is forwarded,
// hash-chained, signed with the host key, logged in a host-level
// append-only log of heads, and optionally encrypted to age recipients.
//
// A recording is a JSON-lines file, state_dir/recordings/YYYY/MM/DD/<session>.jsonl:
// a header line (Store.Create), then one line per event (Recording.Append),
// then an end event and a signature line (Recording.Close). Each line
// carries its seq, its time (UTC, microseconds), the hash of the line
// before and its own hash. docs/recording.md describes the format.
//
// Writing. Open takes the store's lock, loads or generates the host key,
// opens the head log (package headlog) and seals what a previous run left
// open (kill -9, power loss): a partial last line is cut and an end event
// with reason "daemon_restart" is appended, signed and logged. Append
// writes one complete line with one write(2) on an O_APPEND file and
// returns once that call has returned: the event survives a crash of the
// process. It never waits for the disk; one goroutine per store syncs
// every recording written to each Options.FsyncInterval (group commit),
// then logs the heads of the recordings closed since. A write that fails
// (ENOSPC, EIO, short write) is undone (the file is cut back to its last
// complete line) and reported as ErrWrite, so the caller can refuse the
// statement and try again later.
//
// Wiring, for a protocol inspector: the daemon opens one Store; each
// session calls Store.Create with its Header once it knows the upstream
// user and database, Append(&Statement{...}) after deciding each statement
// and before forwarding it (refusing it if that fails and the target's
// on_record_failure is deny), Append(&Result{Statement: seq, ...}) when it
// completes (from the goroutine reading the upstream: Append is safe for
// concurrent use), and Close(Summary) when the session ends. Other
// protocols append events of their own kinds with Raw.
//
// Reading. NewReader and OpenFile read a recording line by line, checking
// each line and the chain as they go (bounded line length, no panic on
// hostile input); List, Find and Verify read a store without locking or
// changing it. Encrypted recordings are read with age identities
// (ReadOptions.Identities); the store itself cannot read them.
package record
