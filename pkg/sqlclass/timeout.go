package sqlclass

// The session's statement_timeout is followed like its search_path: set at
// startup, changed by SET, SET LOCAL (until the transaction ends), RESET,
// RESET ALL, DISCARD ALL and set_config, and rolled back with the
// transaction that changed it. Its value is kept as written: the caller
// interprets it (a number of milliseconds, or a number with a unit).

// SetStatementTimeout records the statement_timeout the client set at
// startup. Before any statement has been applied, it also becomes the
// value RESET and DISCARD ALL return to.
func (s *Session) SetStatementTimeout(v string) {
	if !s.applied {
		s.initialTimeout = v
	}
	s.cur.timeout = v
	if !s.inBlock {
		s.committed.timeout = v
	}
}

// StatementTimeout returns the statement_timeout in force as the client
// set it, including a SET LOCAL of the current transaction; "" when the
// client never set it (the server's default, unknown here, applies).
func (s *Session) StatementTimeout() string {
	if s.cur.hasLocalTimeout {
		return s.cur.localTimeout
	}
	return s.cur.timeout
}

// StatementTimeoutAfter returns the statement_timeout in force once the
// statements before, of the same query string, have run: a query that
// sets it and then runs a statement runs that statement with the new
// value.
func (s *Session) StatementTimeoutAfter(before []Statement) string {
	v := s.StatementTimeout()
	for i := range before {
		if t := before[i].StatementTimeout; t != nil {
			v = s.timeoutValue(t)
		}
	}
	return v
}

// timeoutValue is the value a change sets.
func (s *Session) timeoutValue(t *Setting) string {
	if t.Reset {
		return s.initialTimeout
	}
	return t.Value
}

// applyTimeout applies a statement_timeout change. A SET LOCAL outside a
// transaction does nothing, as in the server.
func (s *Session) applyTimeout(t *Setting) {
	v := s.timeoutValue(t)
	if !t.Local {
		s.cur.timeout = v
		s.cur.localTimeout, s.cur.hasLocalTimeout = "", false
		return
	}
	if s.inBlock || s.synced || s.implicit {
		s.cur.localTimeout, s.cur.hasLocalTimeout = v, true
	}
}
