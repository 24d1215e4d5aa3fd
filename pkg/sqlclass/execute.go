package sqlclass

import "slices"

// resolveExecutes classifies EXECUTE name (and statements that run one,
// like CREATE TABLE AS EXECUTE or EXPLAIN ANALYZE EXECUTE) as the prepared
// statement the session, or an earlier PREPARE of the same query, knows by
// that name. The cached statements are left alone: changed ones are
// copies.
func (c *Classifier) resolveExecutes(sess *Session, stmts []Statement) []Statement {
	need := false
	for i := range stmts {
		if stmts[i].Executes != "" {
			need = true
			break
		}
	}
	if !need {
		return stmts
	}
	out := slices.Clone(stmts)
	var (
		local   map[string]*Statement // PREPAREd earlier in this query
		stale   map[string]bool       // of those, prepared before a change of name resolution
		changed bool                  // an earlier statement of this query changed name resolution
		dropped map[string]bool       // DEALLOCATEd earlier in this query
		all     bool                  // DEALLOCATE ALL earlier in this query
	)
	for i := range out {
		st := &out[i]
		if st.Executes != "" {
			p, ok := local[st.Executes]
			isStale := ok && stale[st.Executes]
			if !ok && !all && !dropped[st.Executes] {
				p, ok = sess.prepared[st.Executes]
				isStale = ok && (changed || sess.PreparedStale(st.Executes))
			}
			if ok {
				mergePrepared(sess, st, p)
			}
			if isStale && st.Kind.Severity() >= KindExecute.Severity() {
				st.Unsafe, st.UnsafeRule = StaleExecute(st.Executes), RuleStalePrepared
			}
		}
		if changesNames(st) {
			changed = true
			for name := range local {
				if stale == nil {
					stale = make(map[string]bool)
				}
				stale[name] = true
			}
		}
		switch st.Deallocates {
		case "":
		case "*":
			all, local, dropped = true, nil, nil
		default:
			delete(local, st.Deallocates)
			if dropped == nil {
				dropped = make(map[string]bool)
			}
			dropped[st.Deallocates] = true
		}
		if st.Prepares != "" {
			if local == nil {
				local = make(map[string]*Statement)
			}
			local[st.Prepares] = &stmts[i]
			delete(stale, st.Prepares)
		}
	}
	return out
}

// mergePrepared gives st, which executes the prepared statement p, what p
// does. A statement of a kind below KindExecute (EXPLAIN without ANALYZE)
// does not run p: it only lists p's relations and functions, and p's
// function calls still count.
func mergePrepared(sess *Session, st, p *Statement) {
	if st.Kind.Severity() >= KindExecute.Severity() {
		st.Kind = worse(st.Kind, p.Kind)
		st.Unfiltered = st.Unfiltered || p.Unfiltered
	} else {
		if len(p.Dangerous) > 0 {
			st.Kind = worse(st.Kind, KindDangerous)
		}
		for _, f := range p.Functions {
			if !sess.isBuiltin(f) {
				st.Kind = worse(st.Kind, KindCall)
				break
			}
		}
	}
	st.Reads = unionRel(p.Reads, st.Reads)
	st.Writes = unionRel(p.Writes, st.Writes)
	st.Functions = unionFn(p.Functions, st.Functions)
	st.Dangerous = unionFn(p.Dangerous, st.Dangerous)
}

func unionRel(a, b []Relation) []Relation {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	var s set[relKey, Relation]
	for _, r := range a {
		s.add(r.key(), r)
	}
	for _, r := range b {
		s.add(r.key(), r)
	}
	return s.list
}

func unionFn(a, b []Function) []Function {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	var s set[Function, Function]
	for _, f := range a {
		s.add(f, f)
	}
	for _, f := range b {
		s.add(f, f)
	}
	return s.list
}

// changesNames reports whether st changes how later statements resolve
// names: the search_path, or the temporary relations.
func changesNames(st *Statement) bool {
	return st.SetSearchPath != nil || st.SetLocalSearchPath != nil || len(st.CreatesTemp) > 0 || len(st.DropsTemp) > 0
}
