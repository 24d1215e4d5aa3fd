package ocsf

import "github.com/rs/zerolog"

// Login is a database login, as a db.login event reports it.
type Login struct {
	// User is the role sluice logged in as (the database is the
	// context's).
	User string
	// Auth is how: passthrough (the client's own exchange) or inject
	// (credentials sluice holds).
	Auth string
	// Target names the service logged in to.
	Target string
	// Error is why the login failed; "" when it succeeded.
	Error string
}

// Authentication adds to e the `ocsf` object of a db.login event of the
// session c: an Authentication (3002) event, activity Logon.
func (c *Context) Authentication(e *zerolog.Event, l *Login) *zerolog.Event {
	status, severity := statusSuccess, severityInformational
	if l.Error != "" {
		status, severity = statusFailure, severityMedium
	}
	d := c.common(zerolog.Dict(), activityLogon, severity, status, false)
	if l.Error != "" {
		d = d.Str("status_detail", l.Error)
	}
	d = d.Dict("user", zerolog.Dict().Str("name", l.User)).
		Dict("service", zerolog.Dict().Str("name", l.Target)).
		Int("auth_protocol_id", 99).Str("auth_protocol", "postgres "+l.Auth).
		Int("logon_type_id", 3).Str("logon_type", "Network").
		Bool("is_remote", true)
	return e.Dict("ocsf", d.Dict("unmapped", c.withUnmapped(zerolog.Dict().Str("database", c.dbName))))
}
