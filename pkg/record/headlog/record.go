package headlog

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Record types.
const (
	TypeHead   = "head"   // a recording was closed (or sealed after a restart)
	TypeExpire = "expire" // retention removed a recording
)

// Record is one entry of the log.
type Record struct {
	Type    string    `json:"type"`
	Session string    `json:"session"`
	Path    string    `json:"path"`             // recording file, relative to the store
	Events  uint64    `json:"events,omitempty"` // head: event lines in the recording, end included
	Head    string    `json:"head"`             // hex SHA-256 of the recording's last event line
	Reason  string    `json:"reason,omitempty"` // expire: max_age or max_size
	Time    time.Time `json:"time"`
}

// maxRecordLine bounds one record's line.
const maxRecordLine = 16 << 10

// ErrCorrupt is matched (errors.Is) by errors about a log whose files do
// not agree with each other or with their signature.
var ErrCorrupt = errors.New("head log is corrupt")

// encode returns the record's line, without the newline.
func (r *Record) encode() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	c := *r
	c.Time = c.Time.UTC().Truncate(time.Microsecond)
	return json.Marshal(&c)
}

// parseRecord decodes one line strictly.
func parseRecord(line []byte) (Record, error) {
	var r Record
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("not a record: %w", err)
	}
	if d.More() {
		return Record{}, errors.New("not a record: data after the JSON object")
	}
	if err := r.check(); err != nil {
		return Record{}, err
	}
	return r, nil
}

func (r *Record) check() error {
	switch {
	case r.Type != TypeHead && r.Type != TypeExpire:
		return fmt.Errorf("unknown record type %q", r.Type)
	case r.Session == "" || len(r.Session) > 128:
		return errors.New("record without a valid session id")
	case !fs.ValidPath(r.Path) || r.Path == ".":
		return fmt.Errorf("record with an invalid path %q", r.Path)
	case r.Type == TypeHead && r.Events == 0:
		return errors.New("head record with no events")
	}
	if _, err := ParseHash(r.Head); err != nil {
		return fmt.Errorf("record head: %w", err)
	}
	return nil
}

// ParseHash decodes a hash written as 64 hex digits.
func ParseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("hash %q is not 64 hex digits", clip(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("hash %q is not 64 hex digits", clip(s))
	}
	return h, nil
}

// clip bounds text quoted in errors.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
