package postgres

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// pump copies upstream messages to the client, matching each response to
// its pending request: it completes audits, replaces the errors of denied
// requests, and tracks what the client cannot tell us (search_path
// reported by the server).
func (ss *session) pump() error {
	up, c := ss.up, ss.c
	var done []*audited
	for {
		if ss.end.set.Load() {
			return ss.endNow()
		}
		// Between two messages, and about to wait for the server: an
		// end of the session can wake the wait.
		idle := up.r.Buffered() == 0
		if idle && !ss.end.wait() {
			return ss.endNow()
		}
		typ, n, err := up.r.Header(true)
		if idle {
			ss.end.woke(err == nil)
		}
		if err != nil {
			if ss.end.set.Load() {
				return ss.endNow()
			}
			return err
		}
		handled := false
		if ss.inspect.Load() {
			if handled, err = ss.inspectMessage(typ, n); err != nil {
				return err
			}
		}
		if !handled {
			if done, err = ss.relay(typ, n, done); err != nil {
				return err
			}
		}
		ss.watchCopy(typ)
		if up.r.Buffered() == 0 {
			if err := c.w.Flush(); err != nil {
				return err
			}
			if len(done) > 0 {
				ss.emit(done)
				clear(done)
				done = done[:0]
			}
		}
	}
}

// endNow tells the client why the session ends, between two messages,
// and stops the upstream side.
func (ss *session) endNow() error {
	why := ss.end.reason()
	_ = ss.c.w.Send(why.fatal)
	_ = ss.c.w.Flush()
	// The client side may be blocked sending to the server, which nobody
	// reads any more: let it fail.
	_ = ss.up.conn.conn.SetWriteDeadline(time.Unix(1, 0))
	return why
}

// relay passes one upstream message to the client: rows, COPY data,
// descriptions and notifications streamed, the rest decoded and handled by
// response.
func (ss *session) relay(typ byte, n int, done []*audited) ([]*audited, error) {
	up, c := ss.up, ss.c
	switch typ {
	case 'A', 'N':
		if ss.lastMasking.Load() != nil {
			return done, ss.relayMaskedNotice(typ, n)
		}
		return done, up.r.Copy(c.w, typ, n)
	case 'D', 'd', 'T', 't', 'G', 'H', 'W', 'V':
		if typ == 'T' || typ == 't' {
			ss.describeDone(typ)
		}
		return done, up.r.Copy(c.w, typ, n)
	}
	if n > up.r.Max() {
		return done, fmt.Errorf("%w: the upstream sent a %q message of %d bytes, over max_message_size (%d)", ErrProtocol, typ, n, up.r.Max())
	}
	body, err := up.r.Body(n)
	if err != nil {
		return done, err
	}
	return ss.response(typ, body, done), nil
}

// describeDone pops a Describe answered by RowDescription (a Describe of
// a statement answers ParameterDescription first, then this).
func (ss *session) describeDone(typ byte) {
	if typ == 'T' {
		if p := ss.q.front(); p != nil && p.kind == 'D' {
			ss.q.pop()
		}
	}
}

// response handles one decoded upstream message and writes what the
// client gets. Completed audits are appended to done.
func (ss *session) response(typ byte, body []byte, done []*audited) []*audited {
	c := ss.c
	switch typ {
	case 'C', 'I', 's': // CommandComplete, EmptyQueryResponse, PortalSuspended
		if p := ss.q.front(); p != nil {
			switch p.kind {
			case 'Q':
				if p.next < len(p.stmts) {
					a := p.stmts[p.next]
					p.next++
					complete(a, typ, body)
					ss.confirmed.add(effect{st: a.st})
				}
			case 'E':
				ss.q.pop()
				complete(p.stmts[0], typ, body)
				if typ != 's' {
					ss.confirmed.add(effect{st: p.stmts[0].st})
				}
				done = append(done, p.stmts[0])
			}
		}
	case '1', '2', '3', 'n': // ParseComplete, BindComplete, CloseComplete, NoData
		p := ss.q.pop()
		if p != nil && p.kind == 'B' && p.portal != nil {
			ss.confirmed.add(effect{bound: p.portal})
		}
		if p != nil && p.kind == 'P' && len(p.stmts) > 0 {
			a := p.stmts[0]
			a.duration = time.Since(a.start)
			if a.name != "" {
				ss.confirmed.add(effect{st: a.st, prepared: a.name})
			}
			done = append(done, a)
		}
	case 'E':
		ss.hadError = true
		p := ss.q.front()
		e := decodeError(body)
		rewritten := true
		switch {
		case p != nil && p.denied != nil:
			e = p.denied
		case !ss.maskServerMessage(p, e):
			rewritten = false // relayed as it came
		}
		if rewritten {
			if err := c.w.Send(e); err != nil {
				return done
			}
			body = nil
		}
		if p != nil {
			done = ss.failed(p, e, done)
		}
	case 'Z':
		if p := ss.q.front(); p == nil || p.kind != 'Q' && p.kind != 'S' {
			// A ReadyForQuery answers a Query or a Sync: the server and
			// sluice no longer agree on which request is which, and the
			// answers that follow would be matched to the wrong ones.
			ss.end.end(protocolLost(p))
			return done
		}
		if len(body) == 1 {
			ss.confirmed.add(effect{rfq: body[0], hadError: ss.hadError})
		}
		ss.hadError = false
		for {
			p := ss.q.pop()
			if p == nil {
				break
			}
			if p.kind == 'Q' {
				done = append(done, p.stmts...)
			}
			if p.kind == 'Q' || p.kind == 'S' {
				break
			}
		}
	case 'S':
		var m pgproto3.ParameterStatus
		if m.Decode(body) == nil {
			if m.Name == "search_path" {
				v := m.Value
				ss.reportedPath.Store(&v)
			}
			if why := sqlclass.UnsafeSetting(m.Name, m.Value); why != "" {
				// Changed from inside a function, or by the server's
				// configuration: the session's next statements could be
				// read otherwise than the classifier reads them.
				ss.end.end(unsafeSettingEnd(why))
			}
		}
	}
	if body != nil || typ != 'E' {
		c.w.Frame(typ, body)
	}
	return done
}

// failed records an error on the request it answers. In the extended
// protocol the server then skips everything up to Sync, so the requests
// in between are dropped.
func (ss *session) failed(p *pending, e *pgproto3.ErrorResponse, done []*audited) []*audited {
	switch p.kind {
	case 'Q':
		if p.denied != nil {
			// Every statement already carries the denial.
			p.next = len(p.stmts)
			return done
		}
		if p.next < len(p.stmts) {
			a := p.stmts[p.next]
			a.err, a.duration = e, time.Since(a.start)
			p.next++
			for _, rest := range p.stmts[p.next:] {
				rest.note = "not run: an earlier statement of the same query failed"
			}
		}
	case 'S':
		// An error at Sync (a deferred constraint at commit): nothing to pop.
	default:
		ss.q.pop()
		if len(p.stmts) > 0 {
			a := p.stmts[0]
			if a.err == nil {
				a.err = e
			}
			a.duration = time.Since(a.start)
			done = append(done, a)
		}
		ss.parseFailed(p)
		// The server ignores everything up to Sync, simple queries
		// included.
		for {
			next := ss.q.front()
			if next == nil || next.kind == 'S' {
				break
			}
			ss.parseFailed(ss.q.pop())
		}
	}
	return done
}

// parseFailed reports a Parse or a Bind the server refused or skipped:
// the name keeps what it stood for before.
func (ss *session) parseFailed(p *pending) {
	if p.kind == 'B' && p.portal != nil {
		ss.confirmed.add(effect{unbound: p.portal})
	}
	if p.kind == 'P' && p.denied == nil && len(p.stmts) == 1 && p.stmts[0].name != "" {
		ss.confirmed.add(effect{st: p.stmts[0].st, rejected: p.stmts[0].name})
	}
}

// complete records a statement's result from its CommandComplete tag.
func complete(a *audited, typ byte, body []byte) {
	a.duration = time.Since(a.start)
	if typ != 'C' {
		return
	}
	tag := bytes.TrimRight(body, "\x00")
	if i := bytes.LastIndexByte(tag, ' '); i >= 0 {
		if n, err := strconv.ParseInt(string(tag[i+1:]), 10, 64); err == nil {
			a.rows, a.hasRows = n, true
		}
	}
}
