package postgres

import (
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/protocol/postgres/pgmask"
	"github.com/sluicehq/sluice/pkg/record"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// pending is a request forwarded upstream whose response has not been
// seen yet. The upstream answers requests in order, so a FIFO of them says
// which request each response belongs to.
type pending struct {
	kind byte // the client message: 'Q' (simple query), 'P', 'B', 'D', 'E', 'C', 'S'
	// denied is set when the request was replaced by one that fails: the
	// upstream's error is replaced with this one.
	denied *pgproto3.ErrorResponse
	// stmts are the audited statements (Q: each statement of the query;
	// P and E: one).
	stmts []*audited
	next  int // Q: index of the statement whose result comes next
	// portal is what a Bind bound (B), for the server's answer to confirm
	// or undo; the upstream side only passes it on to the client side.
	portal *portal
}

// kindOwnDescribe is the pending kind of a Describe the inspector sends
// itself, before an Execute whose result is masked or sampled.
const kindOwnDescribe = 'x'

// audited is one statement's audit record, completed by its response.
type audited struct {
	st       *sqlclass.Statement // shared with the classifier's cache: read-only
	dec      policy.Decision
	phase    string // "query", "parse" or "execute"
	name     string // prepared statement (parse, execute)
	params   []string
	start    time.Time
	duration time.Duration
	rows     int64
	hasRows  bool
	err      *pgproto3.ErrorResponse
	note     string         // why a statement did not run
	masked   []pgmask.Count // what masking did to its result
	sample   *record.Sample // the first rows of its result, as the client got them
	seq      uint64         // its statement event in the recording, when recorded
	recorded bool
	appr     *approvalInfo // under review: the approval it was held for, or the grant that let it through
}

// runs reports whether the statement may be forwarded: allowed, or under
// review and approved.
func (a *audited) runs() bool {
	switch a.dec.Action {
	case policy.Allow:
		return true
	case policy.Review:
		return a.appr.approved()
	}
	return false
}

// queue is the FIFO of pending requests; the client side pushes, the
// upstream side pops.
type queue struct {
	mu    sync.Mutex
	items []*pending
	head  int
	// room is signalled when a pop leaves fewer than maxPending.
	room chan struct{}
}

// maxPending bounds the requests a client may have sent ahead of the
// server's answers: past it, the client side reads no more until the
// server has answered some, as the server itself would read no more once
// its socket buffers were full. Each request pending holds its audit
// record, so without this bound a client that pipelines without reading
// would grow the session's memory without end.
const maxPending = 4096

// full reports whether maxPending requests are pending.
func (q *queue) full() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)-q.head >= maxPending
}

// waitRoom waits until fewer than maxPending requests are pending, or
// done is closed (false).
func (q *queue) waitRoom(done <-chan struct{}) bool {
	for q.full() {
		select {
		case <-q.room:
		case <-done:
			return false
		}
	}
	return true
}

func (q *queue) push(p *pending) {
	q.mu.Lock()
	q.items = append(q.items, p)
	q.mu.Unlock()
}

// front returns the oldest pending request, or nil.
func (q *queue) front() *pending {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return nil
	}
	return q.items[q.head]
}

// contains reports whether p is still pending.
func (q *queue) contains(p *pending) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, x := range q.items[q.head:] {
		if x == p {
			return true
		}
	}
	return false
}

// pop removes the oldest pending request.
func (q *queue) pop() *pending {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return nil
	}
	p := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if len(q.items)-q.head == maxPending-1 {
		select {
		case q.room <- struct{}{}:
		default:
		}
	}
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		q.items, q.head = q.items[:n], 0
	}
	return p
}

// drain removes and returns everything still pending.
func (q *queue) drain() []*pending {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := append([]*pending(nil), q.items[q.head:]...)
	q.items, q.head = nil, 0
	return out
}
