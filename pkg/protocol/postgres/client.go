package postgres

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/protocol/postgres/wire"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// deniedText is what the upstream receives in place of a denied
// statement: it fails to parse, so the server reacts exactly as to any
// failing statement (aborting the transaction, skipping to Sync), and its
// error is replaced by the policy's. DBAs see it in the server log.
const deniedText = "SLUICE_DENIED_BY_POLICY"

// deniedName names the failing Parse sent in place of a denied extended-
// protocol message; it never exists on the server.
const deniedName = "sluice_denied_by_policy"

// serveClient reads client messages, decides and forwards them, until the
// client leaves or breaks the protocol.
func (ss *session) serveClient() error {
	c, up := ss.c, ss.up
	for {
		if ss.q.full() {
			// What is framed must reach the server, or its answers,
			// which make room, never come.
			if err := up.w.Flush(); err != nil {
				return err
			}
			if !ss.q.waitRoom(ss.upDone) {
				return errUpstreamGone
			}
		}
		typ, n, err := c.r.Header(false)
		if err != nil {
			if errors.Is(err, wire.ErrTooLarge) {
				return fmt.Errorf("%w: %w", errTooLarge, err)
			}
			if errors.Is(err, wire.ErrMalformed) {
				return fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			return err
		}
		if ss.copyIn {
			handled, err := ss.copyInMessage(typ, n)
			if err != nil {
				return err
			}
			if handled {
				if c.r.Buffered() == 0 {
					if err := up.w.Flush(); err != nil {
						return err
					}
				}
				continue
			}
		}
		if ss.discard && typ != 'S' && typ != 'X' {
			if err := c.r.Discard(n); err != nil {
				return err
			}
			continue
		}
		switch typ {
		case 'd', 'c', 'f', 'H':
			// COPY data and Flush pass through (the server ignores COPY
			// messages outside COPY mode).
			if err := c.r.Copy(up.w, typ, n); err != nil {
				return err
			}
		case 'X':
			_ = c.r.Discard(n)
			up.w.Frame('X', nil)
			_ = up.w.Flush()
			return nil
		case 'Q', 'P', 'B', 'E', 'D', 'C', 'S', 'F':
			body, err := c.r.Body(n)
			if err != nil {
				return err
			}
			if err := ss.request(typ, body); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: invalid frontend message type %d", ErrProtocol, typ)
		}
		if c.r.Buffered() == 0 {
			if err := up.w.Flush(); err != nil {
				return err
			}
		}
	}
}

// request handles one decoded-on-demand client request.
func (ss *session) request(typ byte, body []byte) error {
	ss.applyConfirmed()
	if p := ss.reportedPath.Swap(nil); p != nil {
		ss.sql.SetSearchPath(sqlclass.ParseSearchPath(*p))
	}
	switch typ {
	case 'Q':
		return ss.query(body)
	case 'P':
		return ss.parse(body)
	case 'B':
		return ss.bind(body)
	case 'E':
		return ss.execute(body)
	case 'D':
		ss.q.push(&pending{kind: 'D'})
	case 'C':
		var m pgproto3.Close
		if err := m.Decode(body); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if m.ObjectType == 'S' {
			delete(ss.stmts, m.Name)
			ss.sql.ForgetPrepared(m.Name)
		} else {
			delete(ss.portals, m.Name)
		}
		ss.q.push(&pending{kind: 'C'})
	case 'S':
		ss.discard = false
		ss.syncs++
		ss.q.push(&pending{kind: 'S'})
	case 'F':
		// The fast-path function call names a function by OID, which
		// policy cannot see through: refused.
		return ss.deny('Q', fastPathDenied())
	}
	ss.up.w.Frame(typ, body)
	return nil
}

// query handles a simple-protocol Query: every statement is decided; if
// any is refused, none runs. When none is denied, those under review are
// held, and the whole query waits for them.
func (ss *session) query(body []byte) error {
	var m pgproto3.Query
	if err := m.Decode(body); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	stmts, err := ss.h.class.Classify(ss.sql, m.String)
	if err != nil {
		return err
	}
	now := time.Now()
	p := &pending{kind: 'Q', stmts: make([]*audited, len(stmts))}
	review, deny := false, false
	for i := range stmts {
		a := &audited{st: &stmts[i], phase: "query", start: now}
		a.dec = ss.decide(a.st)
		p.stmts[i] = a
		review = review || a.dec.Action == policy.Review
		deny = deny || a.dec.Action == policy.Deny
	}
	if review && !deny {
		err := ss.holdAll(p.stmts, func(i int) string { return ss.sql.StatementTimeoutAfter(stmts[:i]) })
		if err != nil {
			return ss.abandon(p.stmts, err)
		}
		// Durations count from forwarding.
		now = time.Now()
		for _, a := range p.stmts {
			a.start = now
		}
	}
	// The error is the first denied statement's, else the first that
	// does not run (under review and not approved, or not recorded).
	var refused *audited
	for _, a := range p.stmts {
		ss.recordStatement(a)
		if !a.runs() && (refused == nil || a.dec.Action == policy.Deny && refused.dec.Action != policy.Deny) {
			refused = a
		}
	}
	if refused != nil {
		resp := ss.denial(refused)
		for _, a := range p.stmts {
			if a != refused {
				a.note = "not run: another statement of the same query was refused"
			}
			a.err = resp
		}
		p.denied = resp
		ss.q.push(p)
		ss.up.w.Frame('Q', queryBody(deniedText))
		return nil
	}
	for _, a := range p.stmts {
		if a.dec.Masking != nil {
			ss.inspect.Store(true)
		}
	}
	return ss.forward(p, 'Q', body)
}

// parse handles Parse: the statement is classified and decided now, and
// again at each Execute.
func (ss *session) parse(body []byte) error {
	var m pgproto3.Parse
	if err := m.Decode(body); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	key := ss.sql.StateKey()
	st, err := ss.h.class.ClassifyOne(ss.sql, m.Query)
	if err != nil {
		return err
	}
	a := &audited{st: &st, phase: "parse", name: m.Name, start: time.Now()}
	if m.Name != "" && len(ss.stmts) >= maxPrepared {
		if _, exists := ss.stmts[m.Name]; !exists {
			return fmt.Errorf("%w: more than %d prepared statements", errTooLarge, maxPrepared)
		}
	}
	if ps := ss.stmts[m.Name]; m.Name != "" && ps != nil && len(ps.cands) >= maxCandidates {
		a.dec = ss.refuseMasked(a.st, "parse-flood", fmt.Sprintf("more than %d unconfirmed Parse messages for prepared statement %q", maxCandidates, m.Name))
	} else {
		a.dec = ss.decide(a.st)
	}
	if a.dec.Action == policy.Review {
		if err := ss.hold(a, ss.sql.StatementTimeout()); err != nil {
			return ss.abandon([]*audited{a}, err)
		}
		a.start = time.Now()
	}
	ss.recordStatement(a)
	if !a.runs() {
		a.err = ss.denial(a)
		return ss.denyAudited('P', a)
	}
	var ps *prepared
	if m.Name == "" {
		// The unnamed statement is replaced by every Parse.
		ps = &prepared{cands: []*sqlclass.Statement{&st}}
		ss.stmts[""] = ps
	} else {
		ps = ss.stmts[m.Name]
		if ps == nil {
			ps = &prepared{}
			// A statement prepared with SQL PREPARE shares the namespace.
			if old, ok := ss.sql.Prepared(m.Name); ok {
				ps.cands = append(ps.cands, old)
			}
			ss.stmts[m.Name] = ps
		}
		ps.cands = append(ps.cands, &st)
	}
	if ps.origins == nil {
		ps.origins = map[*sqlclass.Statement]origin{}
	}
	ps.origins[&st] = origin{text: m.Query, key: key}
	if a.appr.approved() {
		// The approval covers the statement's first execution.
		ps.approve(&st, a.appr.carried())
	}
	ss.q.push(&pending{kind: 'P', stmts: []*audited{a}})
	ss.up.w.Frame('P', body)
	return nil
}

// bind records the portal's statement and parameters for Execute.
// PostgreSQL analyses a prepared statement again at Bind, when the
// search_path or the relations it uses have changed, and the portal keeps
// that plan: the candidates are classified as the server will run them
// now, and Execute decides those.
func (ss *session) bind(body []byte) error {
	var m pgproto3.Bind
	if err := m.Decode(body); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if m.DestinationPortal != "" && len(ss.portals) >= maxPrepared {
		if _, exists := ss.portals[m.DestinationPortal]; !exists {
			return fmt.Errorf("%w: more than %d portals", errTooLarge, maxPrepared)
		}
	}
	var cands []*sqlclass.Statement
	if ps := ss.stmts[m.PreparedStatement]; ps != nil {
		for _, st := range ps.cands {
			cands = append(cands, ss.current(ps.origins, m.PreparedStatement, st))
		}
	} else if st, ok := ss.sql.Prepared(m.PreparedStatement); ok {
		// A statement prepared with SQL PREPARE shares the namespace.
		cands = []*sqlclass.Statement{ss.current(nil, m.PreparedStatement, st)}
	}
	if len(cands) == 0 {
		// Not a statement sluice knows: Execute of the name is refused.
		delete(ss.portals, m.DestinationPortal)
		ss.q.push(&pending{kind: 'B'})
		ss.up.w.Frame('B', body)
		return nil
	}
	pt := &portal{
		cands: cands, portal: m.DestinationPortal, name: m.PreparedStatement,
		params: auditParams(m.Parameters, m.ParameterFormatCodes), sync: ss.syncs,
		prev: ss.portals[m.DestinationPortal],
	}
	ss.portals[m.DestinationPortal] = pt
	ss.q.push(&pending{kind: 'B', portal: pt})
	ss.up.w.Frame('B', body)
	return nil
}

// execute decides the portal's statement again (the policy may have
// changed since Parse) and audits it with its parameters.
func (ss *session) execute(body []byte) error {
	var m pgproto3.Execute
	if err := m.Decode(body); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	pt := ss.portals[m.Portal]
	if pt == nil {
		a := &audited{st: unknownPortal(m.Portal), phase: "execute", start: time.Now()}
		a.dec = refuse("unknown-portal", fmt.Sprintf("portal %q was not bound through sluice (cursors declared with SQL cannot be fetched with Execute)", m.Portal))
		ss.recordStatement(a)
		a.err = ss.denial(a)
		return ss.denyAudited('P', a)
	}
	// Every statement the name may stand for must be allowed or
	// approved; the last Parse is the one the audit shows when all are.
	a := &audited{phase: "execute", name: pt.name, params: pt.params, start: time.Now()}
	review := false
	for _, st := range pt.live(ss.syncs) {
		a.st, a.dec = st, ss.decide(st)
		if a.dec.Action == policy.Deny {
			break
		}
		review = review || a.dec.Action == policy.Review
	}
	if review && a.dec.Action != policy.Deny {
		if err := ss.approveExecute(a, pt); err != nil {
			return ss.abandon([]*audited{a}, err)
		}
		a.start = time.Now()
	}
	ss.recordStatement(a)
	if !a.runs() {
		a.err = ss.denial(a)
		return ss.denyAudited('P', a)
	}
	if a.dec.Masking != nil || ss.sample.max > 0 && a.recorded {
		// The rows of an Execute come without a description: ask for the
		// portal's (its columns and result formats) first; the answer is
		// the masking plan's and the sample's, and the client never sees
		// it.
		ss.inspect.Store(true)
		ss.q.push(&pending{kind: kindOwnDescribe, stmts: []*audited{a}})
		ss.up.w.Frame('D', append(append([]byte{'P'}, m.Portal...), 0))
	}
	return ss.forward(&pending{kind: 'E', stmts: []*audited{a}}, 'E', body)
}

// denyAudited replaces the current request with a failing one whose error
// becomes a's.
func (ss *session) denyAudited(kind byte, a *audited) error {
	ss.discard = true
	ss.q.push(&pending{kind: kind, denied: a.err, stmts: []*audited{a}})
	ss.up.w.Frame('P', parseBody(deniedName, deniedText))
	return nil
}

// deny replaces the current request with a failing simple query.
func (ss *session) deny(kind byte, a *audited) error {
	ss.recordStatement(a)
	a.err = ss.denial(a)
	ss.q.push(&pending{kind: kind, denied: a.err, stmts: []*audited{a}})
	ss.up.w.Frame('Q', queryBody(deniedText))
	return nil
}

// queryBody encodes a Query body.
func queryBody(sql string) []byte {
	return append([]byte(sql), 0)
}

// parseBody encodes a Parse body without parameter types.
func parseBody(name, sql string) []byte {
	b := make([]byte, 0, len(name)+len(sql)+4)
	b = append(b, name...)
	b = append(b, 0)
	b = append(b, sql...)
	return append(b, 0, 0, 0)
}

// current returns the classification of candidate st of the statement
// named name as the server runs it when it is bound now. PostgreSQL
// analyses a prepared statement again when the search_path or the
// relations it uses have changed since it was prepared: so does sluice,
// from the text it parsed (origins). A statement prepared with SQL
// PREPARE under another state is refused (its text is the PREPARE's; see
// sqlclass.Session.PreparedStale).
func (ss *session) current(origins map[*sqlclass.Statement]origin, name string, st *sqlclass.Statement) *sqlclass.Statement {
	key := ss.sql.StateKey()
	if o, ok := origins[st]; ok {
		if o.key == key {
			return st
		}
		again, err := ss.h.class.ClassifyOne(ss.sql, o.text)
		if err != nil {
			again = sqlclass.Statement{Kind: sqlclass.KindUnparseable, Text: st.Text, Error: err.Error()}
		}
		return &again
	}
	if ss.sql.PreparedStale(name) {
		c := *st
		c.Unsafe, c.UnsafeRule = sqlclass.StaleExecute(name), sqlclass.RuleStalePrepared
		return &c
	}
	return st
}
