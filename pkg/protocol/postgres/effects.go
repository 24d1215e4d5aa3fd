package postgres

import (
	"slices"
	"sync"

	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// effect is something the server confirmed that changes how later
// statements classify: a statement that completed, a statement prepared
// with Parse, or a ReadyForQuery (transaction status, after which
// rolled-back effects are undone).
type effect struct {
	st       *sqlclass.Statement // completed statement (Apply), or the Parse'd one
	prepared string              // with st: a statement prepared by Parse under this name
	rejected string              // with st: a Parse under this name that failed or was skipped
	rfq      byte                // non-zero: a ReadyForQuery with this status
	hadError bool
	// bound is a Bind the server completed, unbound one it refused or
	// skipped (the portal keeps what it stood for before).
	bound, unbound *portal
}

// effects carries confirmed effects from the upstream side, which sees
// completions, to the client side, which owns the classification session
// and applies them before it classifies the next message. A statement's
// effects thus count only once the server has run it: a CREATE TEMP TABLE
// that failed never makes a later name resolve to pg_temp.
type effects struct {
	mu   sync.Mutex
	list []effect
}

func (e *effects) add(x effect) {
	e.mu.Lock()
	e.list = append(e.list, x)
	e.mu.Unlock()
}

// take returns and clears the pending effects.
func (e *effects) take() []effect {
	e.mu.Lock()
	defer e.mu.Unlock()
	list := e.list
	e.list = nil
	return list
}

// applyConfirmed applies what the server confirmed to the classification
// session and to the candidates of prepared statements (client side).
func (ss *session) applyConfirmed() {
	for _, x := range ss.confirmed.take() {
		switch {
		case x.rfq != 0:
			ss.sql.ReadyForQuery(x.rfq, x.hadError)
		case x.prepared != "":
			// The server created it: the name did not exist before, so
			// earlier candidates are gone; later Parses of the name are
			// still pending. A candidate no longer listed was closed since.
			ss.sql.RecordPrepared(x.prepared, x.st)
			if ps := ss.stmts[x.prepared]; ps != nil {
				if i := slices.Index(ps.cands, x.st); i >= 0 {
					for _, gone := range ps.cands[:i] {
						delete(ps.approved, gone)
					}
					ps.cands = ps.cands[i:]
				}
			}
		case x.bound != nil:
			// The server made it: whatever the name stood for before is
			// gone, for it and for the Binds after it.
			x.bound.confirmed, x.bound.prev = true, nil
		case x.unbound != nil:
			pt := x.unbound
			pt.failed = true
			if ss.portals[pt.portal] == pt {
				if pt.prev != nil {
					ss.portals[pt.portal] = pt.prev
				} else {
					delete(ss.portals, pt.portal)
				}
			}
		case x.rejected != "":
			if ps := ss.stmts[x.rejected]; ps != nil {
				ps.cands = slices.DeleteFunc(ps.cands, func(st *sqlclass.Statement) bool { return st == x.st })
				delete(ps.approved, x.st)
				if len(ps.cands) == 0 {
					delete(ss.stmts, x.rejected)
				}
			}
		case x.st != nil:
			ss.sql.Apply(x.st)
		}
	}
}
