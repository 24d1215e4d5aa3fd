package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/protocol/postgres/pgmask"
)

// errMasking ends a session whose result could not be masked: nothing of
// it may reach the client unmasked, and the stream cannot be resumed.
var errMasking = errors.New("postgres: result could not be masked")

// inspectMessage handles the upstream messages masking and sampling are
// concerned with, once the session masks anything or samples results. It
// reports whether it consumed the message (read its body and wrote what
// the client gets); otherwise the caller handles it as usual.
func (ss *session) inspectMessage(typ byte, n int) (bool, error) {
	switch typ {
	case 'T':
		return ss.describeResult(n)
	case 'n':
		if p := ss.q.front(); p != nil && p.kind == kindOwnDescribe {
			// The Execute returns no rows.
			ss.q.pop()
			ss.mask.plan, ss.mask.of = nil, nil
			return true, ss.up.r.Discard(n)
		}
	case 'D':
		if !ss.mask.plan.Empty() {
			return true, ss.maskRow(n)
		}
		if ss.sample.wants() {
			if n <= ss.up.r.Max() {
				return true, ss.sampleRow(n)
			}
			ss.sample.stop() // a row too large to hold: the sample ends, cut
		}
	case 'H':
		return ss.maskCopyStart(n)
	case 'd':
		if ss.mask.copy == nil {
			return false, nil
		}
		return true, ss.maskCopyData(n)
	case 'C', 's', 'I', 'E':
		ss.maskDone()
		ss.sample.done()
	}
	return false, nil
}

// describeResult starts a result: the masking plan is compiled from its
// RowDescription, and its sample begins. The description answering the
// inspector's own Describe is not forwarded.
func (ss *session) describeResult(n int) (bool, error) {
	p := ss.q.front()
	if p == nil {
		return false, nil
	}
	var a *audited
	own := p.kind == kindOwnDescribe
	switch {
	case own:
		a = p.stmts[0]
	case p.kind == 'Q' && p.next < len(p.stmts):
		a = p.stmts[p.next]
	}
	masks := a != nil && a.dec.Masking != nil
	samples := a != nil && ss.sample.max > 0 && a.recorded
	if !masks && (!samples || n > ss.up.r.Max()) {
		if own {
			// Asked for a sample only, and too large to hold: the
			// result goes unsampled.
			ss.q.pop()
			return true, ss.up.r.Discard(n)
		}
		return false, nil
	}
	body, err := ss.up.r.Body(n)
	if err != nil {
		return true, err
	}
	var rd pgproto3.RowDescription
	if err := rd.Decode(body); err != nil {
		if !masks {
			// Not the sample's to judge: the client gets what it gets.
			return true, ss.forwardDescription(own, body)
		}
		return true, ss.maskFailed(fmt.Errorf("%w: RowDescription: %w", ErrProtocol, err))
	}
	if masks {
		rules := ss.h.maskRulesFor(a.dec.Masking, ss.up.database)
		if rules.err != nil {
			return true, ss.maskFailed(rules.err)
		}
		ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), dialKey{}, ss.dial), catalogTimeout)
		defer cancel()
		plan, err := pgmask.Compile(ctx, rd.Fields, rules.rules)
		if err != nil {
			return true, ss.maskFailed(err)
		}
		ss.mask.plan, ss.mask.of = plan, a
	}
	if samples {
		ss.sample.start(a, rd.Fields)
	}
	return true, ss.forwardDescription(own, body)
}

// forwardDescription passes a RowDescription to the client, unless it
// answers the inspector's own Describe.
func (ss *session) forwardDescription(own bool, body []byte) error {
	if own {
		ss.q.pop()
		return nil
	}
	ss.c.w.Frame('T', body)
	return nil
}

// maskRow masks one DataRow. A row is held whole to be masked, so rows
// over max_message_size end the session rather than pass unmasked.
func (ss *session) maskRow(n int) error {
	if n > ss.up.r.Max() {
		return ss.maskFailed(fmt.Errorf("a row of %d bytes is over max_message_size (%d) and cannot be masked", n, ss.up.r.Max()))
	}
	body, err := ss.up.r.Body(n)
	if err != nil {
		return err
	}
	out, changed, err := ss.mask.plan.Row(ss.mask.buf[:0], body)
	if err != nil {
		return ss.maskFailed(err)
	}
	if changed {
		ss.mask.buf = out
		body = out
	}
	if ss.sample.wants() {
		// The sample is taken from the row the client gets: masked.
		ss.sample.add(body)
	}
	ss.c.w.Frame('D', body)
	return nil
}

// sampleRow relays one DataRow of an unmasked result, keeping it in the
// sample.
func (ss *session) sampleRow(n int) error {
	body, err := ss.up.r.Body(n)
	if err != nil {
		return err
	}
	ss.sample.add(body)
	ss.c.w.Frame('D', body)
	return nil
}

// maskCopyStart starts masking COPY TO STDOUT data when the statement is
// masked, sent as a simple query or through Execute: every data line goes
// through the content detectors (what COPY data cannot honour is refused
// at decision time, see copyUnmaskable).
func (ss *session) maskCopyStart(n int) (bool, error) {
	var a *audited
	switch p := ss.q.front(); {
	case p == nil:
	case p.kind == 'Q' && p.next < len(p.stmts):
		a = p.stmts[p.next]
	case p.kind == 'E':
		a = p.stmts[0]
	}
	if a == nil || a.dec.Masking == nil {
		return false, nil
	}
	body, err := ss.up.r.Body(n)
	if err != nil {
		return true, err
	}
	var m pgproto3.CopyOutResponse
	if err := m.Decode(body); err != nil {
		return true, ss.maskFailed(fmt.Errorf("%w: CopyOutResponse: %w", ErrProtocol, err))
	}
	if m.OverallFormat != 0 {
		// Refused at decision time (copyUnmaskable); should the server
		// still start one, it must not pass.
		return true, ss.maskFailed(errors.New("binary COPY TO cannot be masked; use the text or CSV format"))
	}
	rules := ss.h.maskRulesFor(a.dec.Masking, ss.up.database)
	if rules.err != nil {
		return true, ss.maskFailed(rules.err)
	}
	ss.mask.copy = rules.scanner.Scanner()
	ss.mask.of = a
	ss.c.w.Frame('H', body)
	return true, nil
}

// maskCopyData masks one CopyData message of COPY TO STDOUT data.
func (ss *session) maskCopyData(n int) error {
	if n > ss.up.r.Max() {
		return ss.maskFailed(fmt.Errorf("a COPY line of %d bytes is over max_message_size (%d) and cannot be masked", n, ss.up.r.Max()))
	}
	body, err := ss.up.r.Body(n)
	if err != nil {
		return err
	}
	out, res := ss.mask.copy.Text(ss.mask.buf[:0], body, mask.Context{})
	ss.mask.copyCounts.Add(&res.Counts)
	if !res.Changed || res.Null {
		// Null never happens: COPY TO with a null strategy is refused.
		ss.c.w.Frame('d', body)
		return nil
	}
	ss.mask.buf = out
	ss.c.w.Frame('d', out)
	return nil
}

// maskDone ends the result being masked: its counts go to its statement.
func (ss *session) maskDone() {
	a := ss.mask.of
	if a == nil {
		return
	}
	if ss.mask.copy != nil {
		for d := mask.Detector(1); int(d) < mask.NumDetectors; d++ {
			if n := ss.mask.copyCounts[d]; n > 0 {
				a.masked = append(a.masked, pgmask.Count{Column: "*", Detector: d.String(), N: uint64(n)})
			}
		}
	} else {
		a.masked = append(a.masked, ss.mask.plan.Stats().Counts()...)
	}
	ss.mask = masking{buf: ss.mask.buf[:0]}
	if cap(ss.mask.buf) > 1<<20 {
		ss.mask.buf = nil
	}
}

// maskFailed tells the client, with a FATAL error, that a result could
// not be masked, and ends the session: what was already sent is masked,
// nothing else will be.
func (ss *session) maskFailed(err error) error {
	ss.h.deps.Metrics.ProtocolErrors.WithLabelValues(ss.h.target, "masking").Inc()
	_ = ss.c.w.Send(fatal(codeInternalError, "sluice could not mask the result, so the session ends: %v", err))
	_ = ss.c.w.Flush()
	return fmt.Errorf("%w: %w", errMasking, err)
}
