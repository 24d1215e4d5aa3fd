package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Kind names an event type. Other protocols add their own kinds with
// [Raw].
type Kind string

// The event kinds of the store itself and of the PostgreSQL inspector.
const (
	KindHeader    Kind = "header"    // line 0: who, where, when (Create)
	KindStatement Kind = "statement" // a statement and its decision, written before it is forwarded
	KindResult    Kind = "result"    // a statement's outcome, written when it completes
	KindLogin     Kind = "login"     // the upstream login
	KindCancel    Kind = "cancel"    // a cancel request
	KindApproval  Kind = "approval"  // an approval asked for, given or refused
	KindEnd       Kind = "end"       // the last event: why the session ended, totals (Close)
)

// Decisions a statement event may carry. Any decision other than
// DecisionAllow and DecisionApproved counts as denied in the totals (see
// Refused).
const (
	DecisionAllow  = "allow"
	DecisionDeny   = "deny"
	DecisionReview = "review" // sent to review and not approved: it did not run
	// DecisionApproved: sent to review and approved (or let through by a
	// grant); the statement's approval field names the request.
	DecisionApproved = "approved"
)

// Refused reports whether a statement decision counts as denied: the
// statement was not forwarded.
func Refused(decision string) bool {
	return decision != DecisionAllow && decision != DecisionApproved
}

// Bounds applied when an event is written, so that every line stays under
// MaxLine whatever the caller passes. Cut texts are marked.
const (
	MaxText         = 128 << 10 // statement text, bytes
	MaxParams       = 64        // bound parameters kept
	MaxParamLen     = 1 << 10   // bytes of one parameter
	MaxNames        = 256       // relations or functions in one list
	MaxNameLen      = 256       // bytes of one name
	MaxSampleRows   = 1000      // rows in a result sample, whatever Options.SampleRows says
	MaxSampleCols   = 64        // columns in a result sample
	MaxSampleCell   = 256       // bytes of one sample cell
	MaxSampleBytes  = 64 << 10  // bytes of cells in one sample
	MaxPayload      = 2 << 20   // an event's JSON, before encryption
	MaxLine         = 4 << 20   // one line of a recording, newline included
	maxMessageBytes = 4 << 10   // error texts, notes, reasons
)

// Event is what Recording.Append writes: *Statement, *Result, *Login,
// *Cancel, *Approval or *Raw.
type Event interface {
	// Kind is the event's kind.
	Kind() Kind
	appendJSON(b []byte, sampleRows int) ([]byte, error)
}

// Statement is a statement as the inspector decided it, written before it
// is forwarded (or refused).
type Statement struct {
	Phase     string   `json:"phase,omitempty"`      // protocol step: query, parse, execute, function_call
	Text      string   `json:"text"`                 // the statement text (cut to MaxText)
	TextBytes int      `json:"text_bytes,omitempty"` // length of the text when it was cut, else 0
	Prepared  string   `json:"prepared,omitempty"`   // prepared statement name
	Params    []string `json:"params,omitempty"`     // bound parameters, as the inspector renders them
	Class     string   `json:"class,omitempty"`      // classification: select, insert, ddl...
	Command   string   `json:"command,omitempty"`    // the command tag, such as SELECT or DROP TABLE
	Reads     []string `json:"reads,omitempty"`
	Writes    []string `json:"writes,omitempty"`
	Functions []string `json:"functions,omitempty"`
	Decision  string   `json:"decision"`         // DecisionAllow, DecisionDeny, DecisionReview, DecisionApproved
	Shadow    string   `json:"shadow,omitempty"` // a shadow policy's decision, such as would_deny
	Policy    string   `json:"policy,omitempty"`
	Rule      string   `json:"rule,omitempty"`
	Reason    string   `json:"reason,omitempty"`   // why it was refused
	Approval  string   `json:"approval,omitempty"` // id of the approval request it was held for
}

// Kind returns KindStatement.
func (*Statement) Kind() Kind { return KindStatement }

// Denied reports whether the statement counts as denied.
func (s *Statement) Denied() bool { return Refused(s.Decision) }

func (s *Statement) appendJSON(b []byte, _ int) ([]byte, error) {
	text, n := s.Text, s.TextBytes
	if len(text) > MaxText {
		text, n = truncateUTF8(text, MaxText), max(n, len(s.Text))
	}
	b = append(b, '{')
	b = appendKey(b, "decision", true)
	b = appendString(b, s.Decision)
	b = appendStrField(b, "phase", s.Phase)
	b = appendString(appendKey(b, "text", false), text)
	if n > 0 {
		b = appendIntField(b, "text_bytes", int64(n))
	}
	b = appendStrField(b, "prepared", truncateUTF8(s.Prepared, MaxNameLen))
	if len(s.Params) > 0 {
		b = append(appendKey(b, "params", false), '[')
		for i, p := range s.Params[:min(len(s.Params), MaxParams)] {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, truncateUTF8(p, MaxParamLen))
		}
		b = append(b, ']')
	}
	b = appendStrField(b, "class", truncateUTF8(s.Class, MaxNameLen))
	b = appendStrField(b, "command", truncateUTF8(s.Command, MaxNameLen))
	b = appendNames(b, "reads", s.Reads)
	b = appendNames(b, "writes", s.Writes)
	b = appendNames(b, "functions", s.Functions)
	b = appendStrField(b, "shadow", truncateUTF8(s.Shadow, MaxNameLen))
	b = appendStrField(b, "policy", truncateUTF8(s.Policy, MaxNameLen))
	b = appendStrField(b, "rule", truncateUTF8(s.Rule, MaxNameLen))
	b = appendStrField(b, "reason", truncateUTF8(s.Reason, maxMessageBytes))
	b = appendStrField(b, "approval", truncateUTF8(s.Approval, MaxNameLen))
	return append(b, '}'), nil
}

func appendNames(b []byte, key string, vs []string) []byte {
	if len(vs) == 0 {
		return b
	}
	b = append(appendKey(b, key, false), '[')
	for i, v := range vs[:min(len(vs), MaxNames)] {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, truncateUTF8(v, MaxNameLen))
	}
	return append(b, ']')
}

// Result is a statement's outcome, written when it completes.
type Result struct {
	Statement uint64        // seq of the statement event it completes
	Duration  time.Duration // from forwarding to completion
	Rows      int64         // rows returned or affected, when HasRows
	HasRows   bool
	Error     string  // the server's error message, "" on success
	Code      string  // its SQLSTATE
	Note      string  // why a statement did not run, when it did not
	Sample    *Sample // result rows, masked by the caller; cut to Options.SampleRows
}

// Sample is a bounded sample of a result's rows. The caller masks it
// before handing it over: the store writes what it is given.
type Sample struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	Cut     bool       `json:"cut,omitempty"` // rows or cells were left out
}

// Kind returns KindResult.
func (*Result) Kind() Kind { return KindResult }

func (r *Result) appendJSON(b []byte, sampleRows int) ([]byte, error) {
	b = append(b, '{')
	b = strconv.AppendUint(appendKey(b, "statement", true), r.Statement, 10)
	b = appendIntField(b, "duration_us", r.Duration.Microseconds())
	if r.HasRows {
		b = appendIntField(b, "rows", r.Rows)
	}
	b = appendStrField(b, "error", truncateUTF8(r.Error, maxMessageBytes))
	b = appendStrField(b, "code", truncateUTF8(r.Code, 16))
	b = appendStrField(b, "note", truncateUTF8(r.Note, maxMessageBytes))
	if r.Sample != nil && sampleRows > 0 {
		b = appendSample(appendKey(b, "sample", false), r.Sample, min(sampleRows, MaxSampleRows))
	}
	return append(b, '}'), nil
}

func appendSample(b []byte, s *Sample, maxRows int) []byte {
	cut := s.Cut || len(s.Rows) > maxRows || len(s.Columns) > MaxSampleCols
	cols := s.Columns[:min(len(s.Columns), MaxSampleCols)]
	b = append(appendKey(append(b, '{'), "columns", true), '[')
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, truncateUTF8(c, MaxNameLen))
	}
	b = append(appendKey(append(b, ']'), "rows", false), '[')
	budget := MaxSampleBytes
	for i, row := range s.Rows[:min(len(s.Rows), maxRows)] {
		if budget <= 0 {
			cut = true
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		if len(row) > MaxSampleCols {
			row, cut = row[:MaxSampleCols], true
		}
		for j, cell := range row {
			if j > 0 {
				b = append(b, ',')
			}
			if len(cell) > MaxSampleCell {
				cell, cut = truncateUTF8(cell, MaxSampleCell), true
			}
			budget -= len(cell)
			b = appendString(b, cell)
		}
		b = append(b, ']')
	}
	b = append(b, ']')
	if cut {
		b = append(appendKey(b, "cut", false), "true"...)
	}
	return append(b, '}')
}

// resultJSON is Result's decoded form.
type resultJSON struct {
	Statement  uint64  `json:"statement"`
	DurationUS int64   `json:"duration_us"`
	Rows       *int64  `json:"rows"`
	Error      string  `json:"error"`
	Code       string  `json:"code"`
	Note       string  `json:"note"`
	Sample     *Sample `json:"sample"`
}

// MarshalJSON encodes the result as it is recorded.
func (r *Result) MarshalJSON() ([]byte, error) { return r.appendJSON(nil, MaxSampleRows) }

// UnmarshalJSON decodes a recorded result.
func (r *Result) UnmarshalJSON(b []byte) error {
	var j resultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Result{Statement: j.Statement, Duration: time.Duration(j.DurationUS) * time.Microsecond,
		Error: j.Error, Code: j.Code, Note: j.Note, Sample: j.Sample}
	if j.Rows != nil {
		r.Rows, r.HasRows = *j.Rows, true
	}
	return nil
}

// Login is the upstream login of a session.
type Login struct {
	User     string `json:"user,omitempty"`
	Database string `json:"database,omitempty"`
	Auth     string `json:"auth,omitempty"` // passthrough, inject
	TLS      bool   `json:"tls,omitempty"`  // the upstream leg is encrypted
	Error    string `json:"error,omitempty"`
	Code     string `json:"code,omitempty"`
}

// Kind returns KindLogin.
func (*Login) Kind() Kind { return KindLogin }

func (l *Login) appendJSON(b []byte, _ int) ([]byte, error) { return appendMarshal(b, l) }

// Cancel is a cancel request made from this session's identity for a
// session (usually another connection's).
type Cancel struct {
	Session string `json:"session,omitempty"` // the session it cancels
	Outcome string `json:"outcome"`           // routed, refused, failed
	Error   string `json:"error,omitempty"`
}

// Kind returns KindCancel.
func (*Cancel) Kind() Kind { return KindCancel }

func (c *Cancel) appendJSON(b []byte, _ int) ([]byte, error) { return appendMarshal(b, c) }

// Approval statuses.
const (
	ApprovalRequested = "requested"
	ApprovalGranted   = "granted"   // approved by an approver, or let through by a grant
	ApprovalRefused   = "refused"   // denied by an approver
	ApprovalExpired   = "expired"   // nobody decided in time
	ApprovalWithdrawn = "withdrawn" // the client gave up waiting
)

// Approval is a step of an approval: asked for, granted, refused, expired,
// withdrawn.
type Approval struct {
	ID        string `json:"id"`
	Statement uint64 `json:"statement,omitempty"` // seq of the statement it is about
	Status    string `json:"status"`              // one of the Approval* statuses
	// Approver names who decided: a user name, or "uid N".
	Approver    string  `json:"approver,omitempty"`
	ApproverUID *uint32 `json:"approver_uid,omitempty"`
	// Grant is how an approval lets statements through: once, or for a
	// window (for).
	Grant  string `json:"grant,omitempty"`
	HeldUS int64  `json:"held_us,omitempty"` // how long the statement was held
	Note   string `json:"note,omitempty"`    // the approver's reason, or why the wait ended
}

// Kind returns KindApproval.
func (*Approval) Kind() Kind { return KindApproval }

func (a *Approval) appendJSON(b []byte, _ int) ([]byte, error) { return appendMarshal(b, a) }

// Raw is an event of another protocol: its kind and a JSON object.
// Its kind is lower case letters, digits, '.', '_' and '-', starts with a
// letter, is at most 32 bytes and is none of the kinds above.
type Raw struct {
	Type Kind
	Data json.RawMessage
}

// Kind returns r.Type.
func (r *Raw) Kind() Kind { return r.Type }

func (r *Raw) appendJSON(b []byte, _ int) ([]byte, error) {
	if !validRawKind(r.Type) {
		return b, fmt.Errorf("%w: event kind %q", ErrInvalid, clip(string(r.Type)))
	}
	if len(r.Data) > MaxPayload {
		return b, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(r.Data))
	}
	t := bytes.TrimLeft(r.Data, " \t\r\n")
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return b, fmt.Errorf("%w: %s event data is not a JSON object", ErrInvalid, r.Type)
	}
	var buf bytes.Buffer
	buf.Grow(len(t))
	if err := json.Compact(&buf, t); err != nil {
		return b, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return append(b, buf.Bytes()...), nil
}

func validRawKind(k Kind) bool {
	if len(k) == 0 || len(k) > 32 || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for _, c := range []byte(k) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	switch k {
	case KindHeader, KindStatement, KindResult, KindLogin, KindCancel, KindApproval, KindEnd, "signature":
		return false
	}
	return true
}

func appendMarshal(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// Summary is what the inspector knows when a session ends.
type Summary struct {
	Reason    string // client_closed, server_closed, error, shutdown...
	Error     string // the error that ended it, if any; never a secret
	BytesUp   int64  // client to upstream
	BytesDown int64  // upstream to client
}

// End is the last event of a recording. It is never encrypted.
type End struct {
	Reason     string `json:"reason"`
	Error      string `json:"error,omitempty"`
	Events     uint64 `json:"events"`     // event lines, header and end included
	Statements uint64 `json:"statements"` // statement events
	Denied     uint64 `json:"denied"`     // statement events whose decision was not allow
	BytesUp    int64  `json:"bytes_up,omitempty"`
	BytesDown  int64  `json:"bytes_down,omitempty"`
	// Cut is the number of bytes of a partial last line removed when the
	// recording was sealed after a restart.
	Cut int64 `json:"cut,omitempty"`
}

// End reasons set by the store itself.
const (
	ReasonDaemonRestart = "daemon_restart" // sealed when the store was next opened
	ReasonShutdown      = "shutdown"       // still open when the store was closed
)

// Kind returns KindEnd.
func (*End) Kind() Kind { return KindEnd }

func (e *End) appendJSON(b []byte, _ int) ([]byte, error) { return appendMarshal(b, e) }

// clip bounds text quoted in errors.
func clip(s string) string {
	if len(s) > 80 {
		return truncateUTF8(s, 80) + "…"
	}
	return s
}
