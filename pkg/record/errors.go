package record

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrWrite: an event could not be written (disk full, I/O error). The
	// recording is left as it was before the call: the caller refuses
	// what it was about to forward, and may try again later. The
	// underlying error (syscall.ENOSPC, ...) is wrapped too.
	ErrWrite = errors.New("recording could not be written")
	// ErrSessionFull: the recording reached Options.MaxSessionBytes; it
	// matches ErrWrite too, so that the caller refuses what it was about
	// to forward, as for a full disk.
	ErrSessionFull = fmt.Errorf("%w: the session's recording reached recording.max_session_size", ErrWrite)
	// ErrClosed: the recording or the store is closed.
	ErrClosed = errors.New("recording is closed")
	// ErrTooLarge: an event's encoding exceeds MaxPayload.
	ErrTooLarge = errors.New("event too large to record")
	// ErrInvalid: a header or event is not valid (bad session id, kind).
	ErrInvalid = errors.New("invalid recording input")
	// ErrExists: a recording of that session already exists.
	ErrExists = errors.New("recording already exists")
	// ErrLocked: another process has the store open.
	ErrLocked = errors.New("recording store is in use by another process")
	// ErrNotFound: no recording of that session.
	ErrNotFound = errors.New("recording not found")
	// ErrCorrupt: a recording or the head log is not what sluice wrote:
	// malformed, truncated, modified or out of order.
	ErrCorrupt = errors.New("recording is corrupt")
	// ErrEncrypted: the recording is encrypted and no identity was given.
	ErrEncrypted = errors.New("recording is encrypted")
	// ErrNoIdentity: none of the identities given can decrypt the
	// recording.
	ErrNoIdentity = errors.New("no identity matches the recording's recipients")
)
