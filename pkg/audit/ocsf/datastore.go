package ocsf

import (
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Query is one SQL statement, as a db.query event reports it.
type Query struct {
	User string // the database role
	// Text is the statement as the event carries it (masked, cut).
	Text     string
	Prepared string
	// Kind is the statement kind (select, insert, ddl...) and Command its
	// command tag (SELECT, DROP TABLE...).
	Kind, Command string
	// Table is the relation the statement is mainly about: the first it
	// writes, else the first it reads; "" when none.
	Table    string
	Decision Decision
	// Error and SQLState: what the client got when the statement did not
	// succeed. NotRun says it did not run, or did not complete, for a
	// reason other than an error (note).
	Error, SQLState string
	NotRun          bool
	Duration        time.Duration
	Rows            int64
	HasRows         bool
}

// Activity maps a statement kind and command tag to a Datastore Activity
// activity id: reads are Query (SELECT) or Read (COPY TO, SHOW), writes
// Write, Update or Delete, DDL Create, Update (ALTER) or Delete (DROP),
// anything else Other (99).
func Activity(kind, command string) int { return datastoreActivity(kind, command).id }

func datastoreActivity(kind, command string) *activity {
	switch kind {
	case "select", "explain":
		return activityQuery
	case "copy_to", "show":
		return activityRead
	case "insert", "copy_from":
		return activityWrite
	case "update", "merge":
		return activityUpdate
	case "delete", "truncate":
		return activityDelete
	case "ddl", "grant":
		switch {
		case strings.HasPrefix(command, "CREATE"), strings.HasPrefix(command, "SELECT"):
			return activityCreate // CREATE ..., SELECT INTO
		case strings.HasPrefix(command, "ALTER"):
			return activityUpdate
		case strings.HasPrefix(command, "DROP"):
			return activityDelete
		}
	}
	return activityOther
}

// Datastore adds to e the `ocsf` object of a db.query event of the
// session c: a Datastore Activity (6005) event.
func (c *Context) Datastore(e *zerolog.Event, q *Query) *zerolog.Event {
	status := statusSuccess
	if q.Decision.Blocked || q.Error != "" || q.NotRun {
		status = statusFailure
	}
	severity := severityInformational
	switch {
	case q.Decision.Blocked:
		severity = severityMedium
	case q.Decision.Shadow:
		severity = severityLow
	}
	d := c.common(zerolog.Dict(), datastoreActivity(q.Kind, q.Command), severity, status, true)
	d = security(d, &q.Decision)
	if q.SQLState != "" {
		d = d.Str("status_code", q.SQLState)
	}
	if q.Error != "" {
		d = d.Str("status_detail", q.Error)
	}
	d = d.Int64("duration", q.Duration.Milliseconds()).RawJSON("type_id", c.database)
	if q.Table != "" {
		d = d.Dict("table", zerolog.Dict().Str("name", q.Table))
	}
	qi := zerolog.Dict().Str("query_string", q.Text)
	if q.Prepared != "" {
		qi = qi.Str("name", q.Prepared)
	}
	d = d.Dict("query_info", qi)
	u := zerolog.Dict().Str("db_user", q.User).Str("kind", q.Kind).Str("command", q.Command)
	if q.HasRows {
		u = u.Int64("rows", q.Rows)
	}
	return e.Dict("ocsf", d.Dict("unmapped", c.withUnmapped(u)))
}
