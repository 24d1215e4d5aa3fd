package control

import (
	"encoding/json"
	"time"
)

// LogsRequest selects the audit events an OpLogs stream sends. Filters
// combine with "and"; an empty one matches every event.
type LogsRequest struct {
	// Follow keeps the stream open and sends each new event; without
	// it, the stream ends once the events held are sent.
	Follow bool `json:"follow,omitempty"`
	// Events are event types, such as db.query; an entry ending in ".*"
	// (db.*) matches every type with that prefix.
	Events   []string `json:"events,omitempty"`
	Identity string   `json:"identity,omitempty"`
	Target   string   `json:"target,omitempty"`
	// Since starts with the events the daemon still holds that were
	// written at or after it.
	Since *time.Time `json:"since,omitempty"`
	// Last starts with the last Last matching events held (0: all of
	// them, or from Since); with Since, the last of those.
	Last int `json:"last,omitempty"`
}

// LogsBatch is one step of an OpLogs stream.
type LogsBatch struct {
	// Events are event lines, as sluiced wrote them (docs/events.md).
	Events []json.RawMessage `json:"events,omitempty"`
	// Dropped counts the events this reader lost since the last batch,
	// matching or not: it fell behind by more than the daemon holds.
	Dropped uint64 `json:"dropped,omitempty"`
	// The first batch says what the daemon holds: the time of its oldest
	// event, and whether it holds every event since it started.
	Oldest   *time.Time `json:"oldest,omitempty"`
	Complete bool       `json:"complete,omitempty"`
	// End is the last batch of a stream without Follow.
	End bool `json:"end,omitempty"`
}
