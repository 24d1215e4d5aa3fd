package sqlclass

// TxOp is the transaction control a statement does.
type TxOp string

// Transaction control operations, as set in [Statement.Transaction].
const (
	TxNone          TxOp = ""
	TxBegin         TxOp = "begin"          // BEGIN, START TRANSACTION
	TxCommit        TxOp = "commit"         // COMMIT, END
	TxCommitChain   TxOp = "commit_chain"   // COMMIT AND CHAIN
	TxRollback      TxOp = "rollback"       // ROLLBACK, ABORT
	TxRollbackChain TxOp = "rollback_chain" // ROLLBACK AND CHAIN
	TxSavepoint     TxOp = "savepoint"      // SAVEPOINT name
	TxRelease       TxOp = "release"        // RELEASE [SAVEPOINT] name
	TxRollbackTo    TxOp = "rollback_to"    // ROLLBACK TO [SAVEPOINT] name
	TxPrepare       TxOp = "prepare"        // PREPARE TRANSACTION: ends the session's transaction
	TxOther         TxOp = "other"          // COMMIT PREPARED, ROLLBACK PREPARED: no effect on the session
)

// ReadyForQuery tells the session that the server is ready for a new query:
// status is the transaction status of the ReadyForQuery message ('I' idle,
// 'T' in a transaction block, 'E' in a failed transaction block) and
// hadError says whether an ErrorResponse came since the previous
// ReadyForQuery. With it the session follows what the server rolled back:
// effects of statements in a failed implicit transaction (a query string
// of several statements), of a failed transaction block, and SET LOCAL at
// the end of a transaction. Calling it is optional; without it statements
// outside a transaction block are taken to commit as they are applied.
func (s *Session) ReadyForQuery(status byte, hadError bool) {
	s.synced = true
	switch status {
	case 'T':
		s.inBlock, s.failed = true, false
	case 'E':
		s.inBlock, s.failed = true, true
	default: // 'I'
		s.endTransaction(!hadError && !s.failed)
	}
}

// applyTx follows transaction control statements.
func (s *Session) applyTx(op TxOp, name string) {
	switch op {
	case TxBegin:
		if !s.inBlock {
			s.inBlock, s.failed, s.saves = true, false, nil
		}
	case TxCommit, TxPrepare:
		s.endTransaction(!s.failed)
	case TxCommitChain:
		s.endTransaction(!s.failed)
		s.inBlock = true
	case TxRollback:
		s.endTransaction(false)
	case TxRollbackChain:
		s.endTransaction(false)
		s.inBlock = true
	case TxSavepoint:
		if s.inBlock {
			s.saves = append(s.saves, savepoint{name: name, state: s.cur})
		}
	case TxRelease:
		if i := s.findSavepoint(name); i >= 0 {
			s.saves = s.saves[:i]
		}
	case TxRollbackTo:
		if i := s.findSavepoint(name); i >= 0 {
			s.cur = s.saves[i].state
			s.key = ""
			s.saves = s.saves[:i+1]
			s.failed = false
		}
	}
}

func (s *Session) findSavepoint(name string) int {
	for i := len(s.saves) - 1; i >= 0; i-- {
		if s.saves[i].name == name {
			return i
		}
	}
	return -1
}

// endTransaction ends the current transaction (block or implicit),
// committing or rolling back the session state.
func (s *Session) endTransaction(commit bool) {
	if commit {
		if s.cur.hasLocal {
			s.cur.local, s.cur.hasLocal = nil, false
			s.key = ""
		}
		s.cur.localTimeout, s.cur.hasLocalTimeout = "", false
		s.committed = s.cur
	} else {
		s.cur = s.committed
		s.key = ""
	}
	s.inBlock, s.failed, s.saves = false, false, nil
}
