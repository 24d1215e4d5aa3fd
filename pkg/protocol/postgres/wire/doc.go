// Package wire reads and writes PostgreSQL protocol 3 messages as raw
// frames: a type byte and a body. It decodes nothing; callers decode the
// few messages they inspect with github.com/jackc/pgx/v5/pgproto3 and pass
// every other frame through untouched, so large results stream with one
// copy and no allocation per row.
//
// Every read is bounded: a frame whose declared length exceeds the
// reader's limit fails with an error wrapping ErrTooLarge before any of its
// body is read.
package wire
