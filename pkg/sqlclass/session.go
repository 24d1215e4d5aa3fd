package sqlclass

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Session is the state of one client connection that classification
// depends on: the search_path, the temporary relations the session created,
// its prepared statements and its transaction state. Create one per
// connection with [NewSession] and feed it every statement that ran with
// [Session.Apply]. A Session is not safe for concurrent use.
type Session struct {
	user    string
	initial []string
	applied bool // a statement has been applied
	// initialTimeout is the statement_timeout the session started with
	// (startup options); RESET and DISCARD ALL return to it.
	initialTimeout string

	cur       pathState // now
	committed pathState // as of the last commit point
	inBlock   bool      // in an explicit transaction block
	failed    bool      // the transaction block failed: it can only roll back
	synced    bool      // ReadyForQuery has been called: statements outside a block commit there
	implicit  bool      // a copy used within one query string (an implicit transaction)
	saves     []savepoint

	prepared map[string]*Statement
	// preparedKey is the stateKey each prepared statement was recorded
	// under: PostgreSQL resolves a prepared statement's names again when
	// the search_path or the relations it uses change.
	preparedKey map[string]string

	key string // cache key of the state that name resolution depends on; "" when stale
}

// pathState is the part of the session state that transactions roll back.
// Its slices and map are never modified in place, so that copies of a
// pathState can be kept as snapshots.
type pathState struct {
	path     []string
	local    []string // SET LOCAL search_path, in force while hasLocal
	hasLocal bool
	temps    map[string]struct{}
	// statement_timeout as set (session and SET LOCAL), see timeout.go.
	timeout, localTimeout string
	hasLocalTimeout       bool
}

type savepoint struct {
	name  string
	state pathState
}

// NewSession returns the state of a new connection of the given login role
// whose search_path is searchPath (nil means the server default,
// ["$user", "public"]). RESET search_path goes back to that path.
func NewSession(user string, searchPath []string) *Session {
	if searchPath == nil {
		searchPath = []string{"$user", "public"}
	}
	p := slices.Clone(searchPath)
	s := &Session{user: user, initial: p}
	s.cur.path = p
	s.committed = s.cur
	return s
}

// SearchPath returns the search_path in force (a copy), including a SET
// LOCAL one of the current transaction.
func (s *Session) SearchPath() []string {
	return slices.Clone(s.effectivePath())
}

// SetSearchPath records the search_path as the server reports it (a
// ParameterStatus message) or as the client set it at startup. Before any
// statement has been applied, it also becomes the path that RESET
// search_path and DISCARD ALL return to.
func (s *Session) SetSearchPath(p []string) {
	p = slices.Clone(p)
	if p == nil {
		p = []string{}
	}
	if !s.applied {
		s.initial = p
	}
	if s.cur.hasLocal {
		s.cur.local = p
	} else {
		s.cur.path = p
	}
	if !s.inBlock {
		s.committed.path = s.cur.path
	}
	s.key = ""
}

// Apply records the effects of a classified statement on the session: a
// new search_path (SET, RESET, set_config), prepared statements (PREPARE,
// DEALLOCATE; PREPARE keeps a copy of st by name), temporary relations
// created or dropped, DISCARD, and transaction control. Call it for each
// statement of a query in order, best once the server has reported the
// statement complete; with [Session.ReadyForQuery] the session also undoes
// the effects of statements that a failed transaction rolled back.
func (s *Session) Apply(st *Statement) {
	if st == nil {
		return
	}
	s.applied = true
	switch st.Deallocates {
	case "":
	case "*":
		s.prepared, s.preparedKey = nil, nil
	default:
		delete(s.prepared, st.Deallocates)
		delete(s.preparedKey, st.Deallocates)
	}
	if st.Prepares != "" {
		s.RecordPrepared(st.Prepares, st)
	}
	if !hasSessionEffects(st) {
		return
	}
	if st.SetSearchPath != nil {
		s.cur.path = slices.Clone(*st.SetSearchPath)
		s.cur.local, s.cur.hasLocal = nil, false
	}
	if st.SetLocalSearchPath != nil && (s.inBlock || s.synced || s.implicit) {
		s.cur.local, s.cur.hasLocal = slices.Clone(*st.SetLocalSearchPath), true
	}
	if st.StatementTimeout != nil {
		s.applyTimeout(st.StatementTimeout)
	}
	if len(st.DropsTemp) > 0 || len(st.CreatesTemp) > 0 {
		s.cur.temps = updateTemps(s.cur.temps, st.DropsTemp, st.CreatesTemp)
	}
	s.applyTx(st.Transaction, st.Savepoint)
	if !s.inBlock && !s.synced && !s.implicit {
		// Autocommit: the statement's effects are committed at once,
		// and a SET LOCAL outside a transaction block does nothing.
		s.cur.local, s.cur.hasLocal = nil, false
		s.cur.localTimeout, s.cur.hasLocalTimeout = "", false
		s.committed = s.cur
	}
	s.key = ""
}

// RecordPrepared records a prepared statement made by other means than a
// PREPARE statement, e.g. a Parse message of the extended protocol with a
// statement name: st is its classification (from [Classifier.ClassifyOne]).
// EXECUTE name is then classified as st. The session keeps a copy of st.
func (s *Session) RecordPrepared(name string, st *Statement) {
	if st == nil {
		return
	}
	if s.prepared == nil {
		s.prepared = make(map[string]*Statement)
		s.preparedKey = make(map[string]string)
	}
	c := *st
	s.prepared[name] = &c
	s.preparedKey[name] = s.stateKey()
}

// ForgetPrepared forgets a prepared statement, e.g. on a Close message of
// the extended protocol.
func (s *Session) ForgetPrepared(name string) {
	delete(s.prepared, name)
	delete(s.preparedKey, name)
}

// Prepared returns the classification of the prepared statement name, if
// the session knows it. The result is shared and must not be modified.
func (s *Session) Prepared(name string) (*Statement, bool) {
	st, ok := s.prepared[name]
	return st, ok
}

// PreparedStale reports whether the prepared statement name was recorded
// under another search_path or set of temporary relations than the
// session's now: PostgreSQL resolves its names again, so its
// classification no longer holds.
func (s *Session) PreparedStale(name string) bool {
	k, ok := s.preparedKey[name]
	return ok && k != s.stateKey()
}

// StateKey identifies what name resolution depends on (the login role,
// the search_path in force, the temporary relations): a classification
// made under one key holds under the same key.
func (s *Session) StateKey() string { return s.stateKey() }

// StaleExecute is Statement.Unsafe for an execution of a statement
// prepared under another name resolution state.
func StaleExecute(name string) string {
	return fmt.Sprintf("prepared statement %q was prepared under another search_path or other temporary tables, and PostgreSQL resolves its names again: sluice cannot tell what it now reads or writes; prepare it again", name)
}

// updateTemps returns a new set of temporary relation names: temps less
// drops ("*" drops all) plus creates.
func updateTemps(temps map[string]struct{}, drops, creates []string) map[string]struct{} {
	out := make(map[string]struct{}, len(temps)+len(creates))
	if !slices.Contains(drops, "*") {
		for n := range temps {
			out[n] = struct{}{}
		}
		for _, n := range drops {
			delete(out, n)
		}
	}
	for _, n := range creates {
		out[n] = struct{}{}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// forQuery returns a copy of s to classify the statements of one query
// string with: effects of earlier statements apply to later ones without
// changing s. The copy knows no prepared statements.
func (s *Session) forQuery() *Session {
	c := *s
	c.saves = slices.Clone(s.saves)
	c.prepared, c.preparedKey = nil, nil
	c.implicit = true
	c.key = ""
	return &c
}

// stateKey identifies the state classification depends on, for the cache.
func (s *Session) stateKey() string {
	if s.key != "" {
		return s.key
	}
	var b strings.Builder
	b.WriteString(s.user)
	b.WriteByte(0)
	for _, p := range s.initial {
		b.WriteString(p)
		b.WriteByte(1)
	}
	b.WriteByte(0)
	for _, p := range s.effectivePath() {
		b.WriteString(p)
		b.WriteByte(1)
	}
	b.WriteByte(0)
	if len(s.cur.temps) > 0 {
		names := make([]string, 0, len(s.cur.temps))
		for n := range s.cur.temps {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			b.WriteString(n)
			b.WriteByte(1)
		}
	}
	s.key = b.String()
	return s.key
}

// maxIdentLen is PostgreSQL's NAMEDATALEN-1: longer identifiers are cut.
const maxIdentLen = 63

// truncIdent cuts an identifier to maxIdentLen bytes, on a character
// boundary, as PostgreSQL does.
func truncIdent(s string) string {
	if len(s) <= maxIdentLen {
		return s
	}
	n := maxIdentLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ParseSearchPath parses the value of a search_path setting, like
// `"$user", public, "My Schema"`, into schema names as PostgreSQL does:
// names are separated by commas, double-quoted names keep their case (""
// stands for a quote), unquoted names are lower-cased (ASCII letters only),
// and names are cut to 63 bytes. An empty value gives an empty path.
func ParseSearchPath(value string) []string {
	out := []string{}
	i := 0
	skipSpace := func() {
		for i < len(value) && isSpace(value[i]) {
			i++
		}
	}
	for {
		skipSpace()
		if i >= len(value) {
			return out
		}
		var name strings.Builder
		if value[i] == '"' {
			i++
			for i < len(value) {
				if value[i] == '"' {
					if i+1 < len(value) && value[i+1] == '"' {
						name.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				name.WriteByte(value[i])
				i++
			}
		} else {
			for i < len(value) && value[i] != ',' && !isSpace(value[i]) {
				c := value[i]
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				name.WriteByte(c)
				i++
			}
		}
		if n := name.String(); n != "" {
			out = append(out, truncIdent(n))
		}
		skipSpace()
		// Skip anything up to the next separator (PostgreSQL would refuse
		// the value; take what can be read).
		for i < len(value) && value[i] != ',' {
			i++
		}
		if i < len(value) {
			i++ // the comma
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
