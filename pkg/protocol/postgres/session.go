package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/pkg/audit/ocsf"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// maxPrepared bounds the prepared statements and portals a session may
// hold, so a client cannot grow the inspector's memory without limit.
const maxPrepared = 10000

// session is one logged-in client session.
type session struct {
	h   *Handler
	s   *protocol.Session
	c   *conn
	up  *upstream
	q   queue
	ctx context.Context // ends when sluiced stops

	// upDone is closed, and upGone set first, when the upstream side has
	// ended (it has then set a read deadline on the client's connection
	// to end the client side).
	upDone chan struct{}
	upGone atomic.Bool

	// dial connects to the upstream as the session does (catalog lookups).
	dial protocol.Dialer
	// end ends the session from outside (its OIDC token expired): the
	// upstream side tells the client.
	end *ending

	// Client side only.
	sql     *sqlclass.Session
	stmts   map[string]*prepared
	portals map[string]*portal
	discard bool   // after a denial in the extended protocol: skip to Sync
	copyIn  bool   // the server is in COPY IN (see copyin.go)
	syncs   uint64 // Syncs the client sent

	// copy carries whether a statement started COPY IN, from the upstream
	// side to the client side.
	copy copyGate

	// confirmed are effects the server confirmed, for the client side.
	confirmed effects
	// hadError: an ErrorResponse came since the last ReadyForQuery
	// (upstream side only).
	hadError bool

	// reportedPath is a search_path the upstream reported in a
	// ParameterStatus; the client side applies it before the next statement.
	reportedPath atomic.Pointer[string]

	// inspect is set once a statement of the session is to be masked, and
	// from the start when results are sampled; until then the upstream
	// side streams rows without looking at them.
	inspect atomic.Bool
	// mask is the upstream side's masking state.
	mask masking
	// sample keeps the first rows of each result for the recording
	// (upstream side; its max is fixed when the session starts).
	sample sampler
	// lastMasking is the masking of the latest statement decided with one:
	// upstream errors that answer no statement of their own (a Bind
	// refused for a parameter's value) are masked with it.
	lastMasking atomic.Pointer[policy.Masking]

	// recs is the session's recording; the client side writes statements,
	// the upstream side results (Append is safe for concurrent use).
	recs recorder

	// ocsf is what the OCSF objects of the session's events share.
	ocsf *ocsf.Context
	// events is what its db.query events share.
	events sessionEvents
}

// prepared is a protocol-level prepared statement: the classifications it
// may have. A Parse of a name that already exists fails on the server
// (42P05) and leaves the old statement in place, while a Parse of a name
// whose earlier Parse failed succeeds; until the server has answered, both
// are possible, so every candidate is decided at Execute and any refusal
// refuses. The server's answer narrows the list (see effects).
type prepared struct {
	cands []*sqlclass.Statement
	// approved are candidates approved at Parse, for their first
	// execution.
	approved map[*sqlclass.Statement]*approvalInfo
	// origins are the texts of candidates parsed through sluice and the
	// name resolution state they were classified under.
	origins map[*sqlclass.Statement]origin
}

// origin is the text a candidate was classified from, and under which
// name resolution state (sqlclass.Session.StateKey).
type origin struct {
	text, key string
}

// maxCandidates bounds the unconfirmed Parses of one name.
const maxCandidates = 8

// portal is a bound statement: what a Bind bound, classified as the
// server planned it at Bind.
type portal struct {
	cands  []*sqlclass.Statement
	portal string // the portal's own name
	name   string // statement name
	params []string
	// approved are candidates an earlier Execute of the portal ran under
	// an approval: fetching more of their rows needs no new one.
	approved map[*sqlclass.Statement]*approvalInfo
	// prev is the portal the name stood for before this Bind: a Bind
	// that fails leaves it in place on the server, so until the server
	// answers, an Execute after the next Sync may run either, and is
	// decided for every portal of the chain (see live). The server's
	// answers cut it: a confirmed Bind replaced everything before it
	// (confirmed, prev nil), a failed one never was (failed).
	prev      *portal
	confirmed bool
	failed    bool
	// sync is the number of Syncs the client had sent at this Bind.
	sync uint64
}

// live returns the candidates an Execute may run when the client has
// sent syncs Syncs: before the Sync that follows an unconfirmed Bind, its
// own alone (if the Bind fails, the server skips to Sync, that Execute
// included); after it, those of every portal the name may still stand
// for, up to the last one confirmed.
func (pt *portal) live(syncs uint64) []*sqlclass.Statement {
	if pt.confirmed || syncs == pt.sync {
		return pt.cands
	}
	var out []*sqlclass.Statement
	for p := pt; p != nil; p = p.prev {
		if !p.failed {
			// Older ones first: the audit shows the last one decided.
			out = append(slices.Clip(p.cands), out...)
		}
		if p.confirmed {
			break
		}
	}
	return out
}

// run inspects the session until either side closes, or ctx ends.
func (h *Handler) run(ctx context.Context, s *protocol.Session, c *conn, up *upstream, dial protocol.Dialer, end *ending) error {
	defer h.deps.Cancels.remove(up.clientKey)
	c.r.SetMax(int(h.opts.MaxMessageSize))
	up.r.SetMax(int(h.opts.MaxMessageSize))
	path := h.opts.SearchPath
	// As a startup parameter or in options (-c search_path=...): the
	// server applies either.
	if v, ok := startupSetting(up.params, "search_path"); ok {
		path = sqlclass.ParseSearchPath(v)
	}
	ss := newEventSession(h, s, up)
	ss.c, ss.dial, ss.ctx, ss.end, ss.upDone = c, dial, ctx, end, make(chan struct{})
	ss.sql = sqlclass.NewSession(up.user, path)
	ss.stmts, ss.portals = map[string]*prepared{}, map[string]*portal{}
	ss.copy, ss.q = newCopyGate(), queue{room: make(chan struct{}, 1)}
	if v, ok := startupSetting(up.params, "statement_timeout"); ok {
		ss.sql.SetStatementTimeout(v)
	}
	ss.openRecording()
	if ss.sample.max = h.sampleRows; ss.sample.max > 0 {
		ss.inspect.Store(true)
	}
	pumpErr := make(chan error, 1)
	go func() {
		err := ss.pump()
		// The upstream is gone: unblock the client side without closing
		// it, so a FATAL can still be written.
		ss.upGone.Store(true)
		_ = c.conn.SetReadDeadline(time.Unix(1, 0))
		close(ss.upDone)
		pumpErr <- err
	}()
	err := ss.serveClient()
	if err != nil && errors.Is(err, ErrProtocol) {
		// Stop the upstream side first, so the FATAL is the last thing
		// the client reads.
		closeQuietly(up.conn.conn)
		<-pumpErr
		h.protocolError(c, err)
		closeQuietly(c.conn)
		ss.flushAudits(ss.q.drain(), "session ended: "+err.Error())
		ss.closeRecording("protocol_error", err, c.counted.BytesRead(), up.counted.BytesRead())
		return err
	}
	closeQuietly(up.conn.conn)
	perr := <-pumpErr
	pending := ss.q.drain()
	note := "session ended before the statement completed"
	var why *terminated
	if !errors.As(perr, &why) {
		// Closed after the grace period, or ended while the client side
		// failed first: the reason is the same.
		why = ss.end.reason()
	}
	if why != nil {
		note += ": " + why.err.Error()
		if len(pending) > 0 {
			// The server would run the statement to its end: stop it.
			ss.cancelRunning(why)
		}
	}
	ss.flushAudits(pending, note)
	reason, rerr := "client_closed", err
	switch {
	case why != nil:
		reason, rerr = why.reason, why
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, errUpstreamGone):
		// The upstream side ended first and unblocked the client side.
		reason, rerr = "server_closed", perr
	case err != nil && !isClosed(err):
		reason = "error"
	}
	if rerr != nil && isClosed(rerr) {
		rerr = nil
	}
	ss.closeRecording(reason, rerr, c.counted.BytesRead(), up.counted.BytesRead())
	if why != nil {
		return why
	}
	if err == nil || isClosed(err) {
		if perr != nil && !isClosed(perr) {
			return perr
		}
		return nil
	}
	return err
}

// isClosed reports errors that only mean a side closed the connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, os.ErrDeadlineExceeded)
}
