package postgres

import (
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
	rfq      byte                // non-zero: a ReadyForQuery with this status
	hadError bool
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

// applyTo applies and clears the pending effects.
func (e *effects) applyTo(s *sqlclass.Session) {
	e.mu.Lock()
	list := e.list
	e.list = nil
	e.mu.Unlock()
	for _, x := range list {
		switch {
		case x.rfq != 0:
			s.ReadyForQuery(x.rfq, x.hadError)
		case x.prepared != "":
			s.RecordPrepared(x.prepared, x.st)
		case x.st != nil:
			s.Apply(x.st)
		}
	}
}
