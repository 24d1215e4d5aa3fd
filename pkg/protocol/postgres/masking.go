package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/protocol/postgres/pgmask"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// catalogTimeout bounds one catalog lookup made while a result waits.
const catalogTimeout = 5 * time.Second

// maskRules is the compiled form of one policy.Masking for this target:
// the resolver plans are compiled with, or why there is none.
type maskRules struct {
	rules   *pgmask.RuleSet
	scanner *mask.Masker // runs the detectors on statement texts for events and recordings
	err     error
}

// maskRulesFor returns the compiled masking of m, building it once per
// *policy.Masking (a new policy set makes new values).
func (h *Handler) maskRulesFor(m *policy.Masking, database string) *maskRules {
	key := maskKey{m, database}
	if v, ok := h.masks.Load(key); ok {
		return v.(*maskRules)
	}
	r := h.compileMasking(m, database)
	v, loaded := h.masks.LoadOrStore(key, r)
	if !loaded && h.nmasks.Add(1) > maxMaskRules {
		// Every policy reload makes new keys: forget the old ones now and
		// then (sessions keep the rules they hold; the rest recompile).
		h.masks.Clear()
		h.nmasks.Store(0)
	}
	return v.(*maskRules)
}

// maxMaskRules bounds the compiled maskings a handler keeps.
const maxMaskRules = 256

// maskKey keys compiled maskings: the catalog is per database.
type maskKey struct {
	m        *policy.Masking
	database string
}

func (h *Handler) compileMasking(m *policy.Masking, database string) *maskRules {
	content, err := mask.New(mask.Config{
		Detectors: m.Detectors, Strategy: m.Strategy, Strategies: m.Strategies, Region: m.Region, Key: h.deps.MaskKey,
	})
	if err != nil {
		return &maskRules{err: fmt.Errorf("masking of policies %v: %w", m.Policies, err)}
	}
	cfg := pgmask.RuleSetConfig{Whole: m.Whole, Key: content}
	if m.Detectors != 0 {
		cfg.Content = content
	}
	for _, c := range m.Columns {
		cfg.Columns = append(cfg.Columns, pgmask.ColumnRule{
			Name: c.Policy + ":" + c.Match, Pattern: c.Match, Strategy: c.Strategy, Hint: c.Hint,
		})
	}
	if cat := h.catalog(database); cat != nil {
		cfg.Catalog = cat
	}
	rs, err := pgmask.NewRuleSet(cfg)
	if err != nil {
		if errors.Is(err, pgmask.ErrPattern) && !h.opts.Auth.Injects() {
			err = fmt.Errorf("%w (column names are read from the server's catalog over a connection of sluice's own, which needs auth: inject on target %q)", err, h.target)
		}
		return &maskRules{err: fmt.Errorf("masking of policies %v: %w", m.Policies, err)}
	}
	return &maskRules{rules: rs, scanner: content}
}

// catalog returns the catalog of a database of the target, or nil when
// sluice cannot log in on its own (auth passthrough).
func (h *Handler) catalog(database string) pgmask.Catalog {
	if !h.opts.Auth.Injects() {
		return nil
	}
	h.catMu.Lock()
	defer h.catMu.Unlock()
	if c, ok := h.catalogs[database]; ok {
		return c
	}
	pool, err := h.catalogPool(database)
	if err != nil {
		return nil
	}
	c := pgmask.NewCatalog(pool, pgmask.CatalogOptions{TTL: h.deps.CatalogTTL})
	if h.catalogs == nil {
		h.catalogs = map[string]*pgmask.PgCatalog{}
	}
	h.catalogs[database] = c
	h.pools = append(h.pools, pool)
	return c
}

// dialKey carries the session's Dialer in the context of a catalog lookup:
// the pool dials the upstream the way the session does (marked, so the
// connection is never intercepted itself).
type dialKey struct{}

// catalogPool is a small pool of connections logged in with the target's
// injected credentials, used only for catalog queries.
func (h *Handler) catalogPool(database string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.MaxConns, cfg.MinConns = 2, 0
	cfg.MaxConnIdleTime = 5 * time.Minute
	cc := cfg.ConnConfig
	cc.Host, cc.Port = h.host, 5432
	cc.User, cc.Database = h.opts.Credentials.Username, database
	cc.RuntimeParams = map[string]string{"application_name": "sluice catalog"}
	cc.TLSConfig = nil
	if h.upTLS != nil {
		cc.TLSConfig = h.upTLS.Clone()
	}
	cc.Fallbacks = nil
	cc.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		dial, ok := ctx.Value(dialKey{}).(protocol.Dialer)
		if !ok {
			return nil, errors.New("postgres: catalog connection outside a session")
		}
		return dial(ctx)
	}
	cfg.BeforeConnect = func(ctx context.Context, c *pgx.ConnConfig) error {
		// Read for every connection, so a rotated password is used.
		pw, err := password(ctx, h.opts.Credentials)
		if err != nil {
			return err
		}
		c.Password = pw
		return nil
	}
	return pgxpool.NewWithConfig(context.Background(), cfg)
}

// enter counts a session in.
func (h *Handler) enter() {
	h.catMu.Lock()
	h.active++
	h.catMu.Unlock()
}

// leave counts a session out; the last one out of a closed handler closes
// its catalog connections.
func (h *Handler) leave() {
	h.catMu.Lock()
	defer h.catMu.Unlock()
	h.active--
	if h.closed && h.active == 0 {
		h.closeCatalogsLocked()
	}
}

// Close releases what the handler's sessions share, the catalog
// connections, once the sessions in progress have ended: the daemon calls
// it when a reload replaces the handler, or at shutdown. Sessions are not
// ended. A session that starts afterwards (routed just before the
// replacement) still works, and what it opens is released when it ends.
func (h *Handler) Close() error {
	h.catMu.Lock()
	defer h.catMu.Unlock()
	h.closed = true
	if h.active == 0 {
		h.closeCatalogsLocked()
	}
	return nil
}

// closeCatalogsLocked closes the catalog connections and forgets the
// compiled maskings that use them. catMu is held.
func (h *Handler) closeCatalogsLocked() {
	for _, p := range h.pools {
		p.Close()
	}
	h.pools, h.catalogs = nil, nil
	h.masks.Clear()
	h.nmasks.Store(0)
}

// masking is a session's masking state on the upstream side: the plan of
// the result being streamed.
type masking struct {
	plan *pgmask.Plan
	buf  []byte
	// of is the statement whose result is masked.
	of *audited
	// copy scans COPY TO STDOUT data; copyCounts counts its matches.
	copy       *mask.Scanner
	copyCounts mask.Counts
}

// refuseUnmaskable refuses a statement whose result the masking cannot
// cover, before anything is forwarded: the masking does not compile for
// this target (schema.table.column rules without a catalog connection),
// a COPY TO STDOUT would bypass it (see copyUnmaskable), or a set_config
// of a computed value would come back in a ParameterStatus. The refusal
// carries m, so the statement's text is masked where it is echoed.
func (ss *session) refuseUnmaskable(st *sqlclass.Statement, m *policy.Masking) *policy.Decision {
	ss.lastMasking.Store(m)
	refuseAs := func(rule, msg string) *policy.Decision {
		// The refused text is masked in its event and recording as an
		// allowed one's would be.
		d := refuse(rule, msg)
		d.Masking = m
		return &d
	}
	r := ss.h.maskRulesFor(m, ss.up.database)
	if r.err != nil {
		return refuseAs("masking-unavailable", "the result must be masked, but the masking cannot be applied: "+r.err.Error())
	}
	if st.CopyOut {
		if msg := copyUnmaskable(st, m); msg != "" {
			return refuseAs("masking-copy", msg+"; SELECT the rows instead")
		}
	}
	if st.SetsComputed {
		// The new value comes back to the client in a ParameterStatus
		// report (application_name takes any text), past masking.
		return refuseAs("masking-set-config", "set_config with a value that is not a literal, under masking: the server would report the value to the client unmasked")
	}
	return nil
}

// copyUnmaskable says why COPY TO STDOUT data cannot be masked as m
// requires, or "". COPY data carries no column names, so its lines go
// through the content detectors only: column rules (hints included),
// whole-result masking and the null strategy cannot apply; and binary COPY
// data is not text the detectors can read.
func copyUnmaskable(st *sqlclass.Statement, m *policy.Masking) string {
	if st.CopyBinary {
		return fmt.Sprintf("binary COPY TO cannot be masked (policies %v); use the text or CSV format", m.Policies)
	}
	if m.Whole != 0 {
		return fmt.Sprintf("COPY TO cannot mask whole results (policies %v)", m.Policies)
	}
	for det, s := range m.Strategies {
		if s == mask.Null {
			return fmt.Sprintf("COPY TO cannot set values to NULL (detector %s of policies %v)", det, m.Policies)
		}
	}
	if m.Strategy == mask.Null {
		return fmt.Sprintf("COPY TO cannot set values to NULL (policies %v)", m.Policies)
	}
	if len(m.Columns) > 0 {
		c := m.Columns[0]
		return fmt.Sprintf("COPY TO cannot apply the column masking rule %q of policy %q (COPY data carries no column names)", c.Match, c.Policy)
	}
	return ""
}

// maskEcho runs the content detectors of m over a text the inspector
// echoes (a statement or a parameter in an event or a recording), so a
// literal holding a card number is not written out raw.
func (ss *session) maskEcho(m *policy.Masking, s string) string {
	if m == nil || m.Detectors == 0 || s == "" {
		return s
	}
	r := ss.h.maskRulesFor(m, ss.up.database)
	if r.scanner == nil {
		return s
	}
	out, res := r.scanner.Scanner().Text(nil, []byte(s), mask.Context{})
	switch {
	case res.Null:
		return "<masked>"
	case res.Changed:
		return string(out)
	}
	return s
}

// maskEchoes is maskEcho over a list.
func (ss *session) maskEchoes(m *policy.Masking, vs []string) []string {
	if m == nil || m.Detectors == 0 || len(vs) == 0 {
		return vs
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = ss.maskEcho(m, v)
	}
	return out
}
