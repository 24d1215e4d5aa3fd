package postgres

import (
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/protocol/postgres/pgmask"
)

// What the server says besides rows can quote data too: an error's
// detail names the duplicate key (Key (email)=(ada@example.com) already
// exists), a failing row, a value that did not convert; a notice or a
// notification carries whatever a function put in it (RAISE NOTICE '%',
// card). In a session that masks, they are masked before the client, the
// events and the recording get them:
//
//   - the content detectors run over every text field (message, detail,
//     hint, context, internal query, and fields sluice does not know);
//   - with column rules or whole-result masking, whose values the
//     detectors cannot recognise, the values the server quotes are
//     redacted where their column is known to be masked: the value list
//     of a key (Key (cols)=(values), when a key column is masked), the
//     whole failing row of a not-null or check violation (when a
//     column of its table may be masked), and the quoted value of a data
//     exception (class 22: invalid input syntax for type bigint: "...").
//     A detail of an integrity violation (class 23) in a shape sluice does
//     not know (a server not speaking English) is dropped whole.

// maskedValues replaces the values a server message quotes.
const maskedValues = "****"

// maskedDetail replaces a detail sluice cannot take apart.
const maskedDetail = "sluice masked this detail: it may quote values of masked columns"

// messageMasking is the masking that covers a server message answering
// p: its statement's, else the latest statement's of the session (a Bind
// refused for a parameter's value answers no statement of its own). Nil
// when no statement of the session was masked.
func (ss *session) messageMasking(p *pending) *policy.Masking {
	last := ss.lastMasking.Load()
	if last == nil {
		return nil
	}
	var m *policy.Masking
	switch {
	case p == nil:
	case p.kind == 'Q' && p.next < len(p.stmts):
		m = p.stmts[p.next].dec.Masking
	case p.kind != 'Q' && len(p.stmts) > 0:
		m = p.stmts[0].dec.Masking
	}
	if m == nil {
		m = last
	}
	return m
}

// maskServerMessage masks an ErrorResponse or a NoticeResponse (same
// fields) answering p, when the session masks. It reports whether
// anything changed.
func (ss *session) maskServerMessage(p *pending, e *pgproto3.ErrorResponse) bool {
	m := ss.messageMasking(p)
	if m == nil {
		return false
	}
	r := ss.h.maskRulesFor(m, ss.up.database)
	changed := false
	if r.rules == nil || r.rules.HasColumnRules() {
		// Without compiled rules (the statement was refused), assume the
		// worst: every quoted value is masked.
		changed = r.maskQuoted(e)
	}
	for _, f := range []*string{&e.Message, &e.Detail, &e.Hint, &e.Where, &e.InternalQuery} {
		if v := ss.maskEcho(m, *f); v != *f {
			*f, changed = v, true
		}
	}
	for k, v := range e.UnknownFields {
		if mv := ss.maskEcho(m, v); mv != v {
			e.UnknownFields[k], changed = mv, true
		}
	}
	return changed
}

// maskNotification masks the payload of a NotificationResponse with the
// detectors of the session's masking (NOTIFY payloads have no columns).
func (ss *session) maskNotification(n *pgproto3.NotificationResponse) bool {
	m := ss.messageMasking(ss.q.front())
	if m == nil {
		return false
	}
	v := ss.maskEcho(m, n.Payload)
	if v == n.Payload {
		return false
	}
	n.Payload = v
	return true
}

// relayMaskedNotice passes a NoticeResponse or NotificationResponse to the
// client, masked, in a session that masks. One too large to hold for
// masking is dropped: notices and notifications are the server's
// remarks, not results.
func (ss *session) relayMaskedNotice(typ byte, n int) error {
	up, c := ss.up, ss.c
	if n > up.r.Max() {
		return up.r.Discard(n)
	}
	body, err := up.r.Body(n)
	if err != nil {
		return err
	}
	if typ == 'A' {
		var m pgproto3.NotificationResponse
		if m.Decode(body) == nil && ss.maskNotification(&m) {
			return c.w.Send(&m)
		}
	} else {
		var m pgproto3.NoticeResponse
		if m.Decode(body) == nil && ss.maskServerMessage(ss.q.front(), (*pgproto3.ErrorResponse)(&m)) {
			return c.w.Send(&m)
		}
	}
	c.w.Frame(typ, body)
	return nil
}

// maskQuoted redacts the values e quotes whose columns the rules mask
// (see the comment at the top of the file). It reports whether anything
// changed.
func (r *maskRules) maskQuoted(e *pgproto3.ErrorResponse) bool {
	changed := false
	if d, ok := r.maskDetail(e.Detail, e.SchemaName, e.TableName, e.Code); ok {
		e.Detail, changed = d, true
	}
	if strings.HasPrefix(e.Code, "22") {
		for _, f := range []*string{&e.Message, &e.Detail} {
			if v, ok := redactQuotes(*f); ok {
				*f, changed = v, true
			}
		}
	}
	return changed
}

// The details PostgreSQL writes (in English) that quote values.
const (
	detailKey       = "Key ("
	detailKeyless   = "Key is " // the values left out: the role may not read them
	detailRow       = "Failing row contains ("
	detailPartition = "Partition key of the failing row contains ("
	keyConflicts    = ") conflicts with existing key ("
)

// keyEnds are what may follow a key's value list, at the end of the
// detail; keyTables are followed by a table name in quotes and a period.
var (
	keyEnds   = []string{") already exists.", ") is duplicated.", ")."}
	keyTables = []string{`) is not present in table "`, `) is still referenced from table "`}
)

// maskDetail masks the values a detail quotes.
func (r *maskRules) maskDetail(d, schema, table, code string) (string, bool) {
	switch {
	case d == "" || strings.HasPrefix(d, detailKeyless):
	case strings.HasPrefix(d, detailKey):
		return r.maskKey(d, len(detailKey), ")=(", schema, table)
	case strings.HasPrefix(d, detailPartition):
		return r.maskKey(d, len(detailPartition), ") = (", schema, table)
	case strings.HasPrefix(d, detailRow):
		if r.rules != nil && !r.rules.MayMaskTable(schema, table) {
			return d, false
		}
		return detailRow + maskedValues + ").", true
	case strings.HasPrefix(code, "23"):
		return maskedDetail, true
	}
	return d, false
}

// maskKey masks the value list of a key detail whose column list starts at
// i: "(cols)" sep "values)" and a tail. A shape it does not recognise is
// masked from the values on.
func (r *maskRules) maskKey(d string, i int, sep, schema, table string) (string, bool) {
	end := closingParen(d, i)
	if end < 0 || !strings.HasPrefix(d[end:], sep) {
		return d[:i] + maskedValues + ")", true
	}
	cols := d[i:end]
	vals := end + len(sep)
	rule := r.keyRule(schema, table, cols)
	if rule.Strategy == 0 && rule.Hint == 0 {
		return d, false // no key column is masked: the detectors see it
	}
	var b strings.Builder
	b.WriteString(d[:vals])
	if j := strings.LastIndex(d, keyConflicts); j >= vals {
		// An exclusion constraint: two keys of the same columns.
		b.WriteString(r.maskValues(rule, d[vals:j]))
		rest, _ := r.maskKey(d[j+len(keyConflicts)-1:], 1, sep, schema, table)
		b.WriteString(keyConflicts[:len(keyConflicts)-1])
		b.WriteString(rest)
		return b.String(), true
	}
	stop, tail := valuesEnd(d, vals)
	b.WriteString(r.maskValues(rule, d[vals:stop]))
	b.WriteString(tail)
	return b.String(), true
}

// valuesEnd finds where a value list starting at i ends (the index of its
// closing parenthesis) by the known tail of the detail; an unknown tail is
// masked with the values.
func valuesEnd(d string, i int) (int, string) {
	for _, e := range keyEnds {
		if strings.HasSuffix(d, e) && len(d)-len(e) >= i {
			return len(d) - len(e), e
		}
	}
	if strings.HasSuffix(d, `".`) {
		for _, t := range keyTables {
			if j := strings.LastIndex(d, t); j >= i {
				return j, d[j:]
			}
		}
	}
	return len(d), ")"
}

// keyRule is how the values of a key whose columns are cols are masked:
// a strategy when a column is under a whole-value rule, else the hints of
// its columns for the detectors (zero: the key is not masked by column).
// Without compiled rules, or without a column name to go by, a key is
// redacted.
func (r *maskRules) keyRule(schema, table, cols string) pgmask.Rule {
	if r.rules == nil {
		return pgmask.Rule{Strategy: mask.Redact}
	}
	names := identifiers(cols)
	if len(names) == 0 && r.rules.MayMaskTable(schema, table) {
		return pgmask.Rule{Strategy: mask.Redact} // no name to go by
	}
	var hint mask.Set
	for _, name := range names {
		rule := r.rules.NameRule(schema, table, name)
		if rule.Strategy != 0 {
			return rule
		}
		hint |= rule.Hint
	}
	return pgmask.Rule{Hint: hint}
}

// maskValues masks a key's value list: redacted whole under a strategy
// (the values of several columns are joined without quoting, so they
// cannot be told apart), or scanned with the columns' hints.
func (r *maskRules) maskValues(rule pgmask.Rule, vals string) string {
	if rule.Strategy != 0 || r.scanner == nil {
		return maskedValues
	}
	out, res := r.scanner.Scanner().Text(nil, []byte(vals), mask.Context{Hint: rule.Hint})
	switch {
	case res.Null:
		return maskedValues
	case res.Changed:
		return string(out)
	}
	return vals
}

// closingParen returns the index of the parenthesis closing a list that
// starts at i (just after its opening one), skipping nested parentheses
// and double-quoted identifiers; -1 if there is none.
func closingParen(s string, i int) int {
	depth, quoted := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return -1
}

// identifiers lists the names in a key's column list: quoted identifiers
// unquoted, and every bare word (an expression's column names, and its
// function and type names too, which can only make it stricter).
func identifiers(cols string) []string {
	var out []string
	for i := 0; i < len(cols); {
		c := cols[i]
		switch {
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(cols); j++ {
				if cols[j] == '"' {
					if j+1 < len(cols) && cols[j+1] == '"' {
						b.WriteByte('"')
						j++
						continue
					}
					break
				}
				b.WriteByte(cols[j])
			}
			if b.Len() > 0 {
				out = append(out, b.String())
			}
			i = j + 1
		case isIdentStart(c):
			j := i + 1
			for j < len(cols) && (isIdentStart(cols[j]) || cols[j] >= '0' && cols[j] <= '9' || cols[j] == '$') {
				j++
			}
			out = append(out, cols[i:j])
			i = j
		default:
			i++
		}
	}
	return out
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// redactQuotes replaces what stands between the first and the last double
// quote of a data exception's text: the value that did not convert.
func redactQuotes(s string) (string, bool) {
	i, j := strings.IndexByte(s, '"'), strings.LastIndexByte(s, '"')
	if i < 0 || j <= i+1 || s[i+1:j] == maskedValues {
		return s, false
	}
	return s[:i+1] + maskedValues + s[j:], true
}
