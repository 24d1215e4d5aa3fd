package pgmask

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoRelation is wrapped by Catalog errors for a table OID the catalog
// does not know (the table was dropped, or the OID is not a relation).
var ErrNoRelation = errors.New("pgmask: no such relation")

// Catalog names the columns of the upstream's tables.
//
// Relation returns the schema and name of the relation with OID tableOID
// and its live columns by attribute number. It is called with the table
// OIDs of RowDescription fields, from the goroutine that streams the
// result: implementations answer from a cache when they can. A missing
// relation is an error wrapping ErrNoRelation.
type Catalog interface {
	Relation(ctx context.Context, tableOID uint32) (schema, table string, columns map[int16]string, err error)
}

// Querier runs a query: *pgx.Conn, a *pgxpool.Pool and pgx.Tx satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// relationQuery reads a relation's schema, name and live columns in one
// round trip.
const relationQuery = `SELECT n.nspname, c.relname, a.attnum, a.attname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.oid = $1`

// CatalogOptions bound a PgCatalog's cache.
type CatalogOptions struct {
	// TTL is how long an answer is kept (default one minute): a renamed
	// column is seen under its new name after at most TTL.
	TTL time.Duration
	// Size is the number of relations kept (default 1024); the least
	// recently used goes first.
	Size int
}

// PgCatalog is a Catalog that queries pg_catalog over one connection and
// caches the answers, with a TTL and a size bound. Use one per target:
// OIDs mean nothing across databases. It is safe for concurrent use;
// queries are serialized on the connection.
type PgCatalog struct {
	q    Querier
	opts CatalogOptions
	now  func() time.Time

	mu    sync.Mutex // guards the cache and serializes queries
	lru   *list.List // of *relation, most recently used first
	index map[uint32]*list.Element
	// Queries counts catalog queries, for tests and metrics.
	queries int
}

type relation struct {
	oid           uint32
	schema, table string
	columns       map[int16]string
	err           error
	expires       time.Time
}

// NewCatalog returns a PgCatalog querying q.
func NewCatalog(q Querier, opts CatalogOptions) *PgCatalog {
	if opts.TTL <= 0 {
		opts.TTL = time.Minute
	}
	if opts.Size <= 0 {
		opts.Size = 1024
	}
	return &PgCatalog{q: q, opts: opts, now: time.Now, lru: list.New(), index: map[uint32]*list.Element{}}
}

// Relation implements Catalog. The columns map is shared: callers must
// not change it.
func (c *PgCatalog) Relation(ctx context.Context, tableOID uint32) (string, string, map[int16]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if e, ok := c.index[tableOID]; ok {
		r := e.Value.(*relation)
		if now.Before(r.expires) {
			c.lru.MoveToFront(e)
			return r.schema, r.table, r.columns, r.err
		}
		c.lru.Remove(e)
		delete(c.index, tableOID)
	}
	r, err := c.query(ctx, tableOID)
	if err != nil && !errors.Is(err, ErrNoRelation) {
		return "", "", nil, err // not cached: the connection may be back next time
	}
	r.expires = now.Add(c.opts.TTL)
	c.index[tableOID] = c.lru.PushFront(r)
	for c.lru.Len() > c.opts.Size {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.index, last.Value.(*relation).oid)
	}
	return r.schema, r.table, r.columns, r.err
}

// Queries returns how many catalog queries ran.
func (c *PgCatalog) Queries() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queries
}

func (c *PgCatalog) query(ctx context.Context, oid uint32) (*relation, error) {
	c.queries++
	rows, err := c.q.Query(ctx, relationQuery, oid)
	if err != nil {
		return nil, fmt.Errorf("pgmask: catalog query for relation %d: %w", oid, err)
	}
	defer rows.Close()
	r := &relation{oid: oid, columns: map[int16]string{}}
	found := false
	for rows.Next() {
		var num *int16
		var name *string
		if err := rows.Scan(&r.schema, &r.table, &num, &name); err != nil {
			return nil, fmt.Errorf("pgmask: catalog query for relation %d: %w", oid, err)
		}
		found = true
		if num != nil && name != nil {
			r.columns[*num] = *name
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgmask: catalog query for relation %d: %w", oid, err)
	}
	if !found {
		r.err = fmt.Errorf("%w: OID %d", ErrNoRelation, oid)
		return r, r.err
	}
	return r, nil
}
