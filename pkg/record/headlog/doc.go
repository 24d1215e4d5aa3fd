// Package headlog is the host-level append-only log of recording heads: a
// transparency log (golang.org/x/mod/sumdb/tlog) with one record per
// closed recording (its session, file, event count and head hash) and one
// per recording removed by retention, and a tree head signed with the host
// key.
//
// A log lives in one directory:
//
//	records   one record per line, JSON; record i is line i (from 0)
//	hashes    the tree's stored hashes, 32 bytes each, in tlog's order
//	tree      the signed tree head: size, root hash, time, key id, signature
//
// The leaf hash of record i is tlog.RecordHash of its line, without the
// newline. Appending writes the records, then their hashes, syncs both,
// and only then replaces the tree head (write, sync, rename), so the tree
// head never names records that are not on disk. Records and hashes past
// the tree's size are an append that did not finish; [Open] cuts them.
//
// [Log] is the writer, used by one process at a time. [Check] reads a log
// without changing it and reports every problem it finds; [Snapshot.Prove]
// checks that one record is included in the signed tree.
package headlog
