package sqlclass

import (
	"fmt"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Fingerprint returns the shape of a statement as 16 hex digits: pg_query's
// fingerprint of the parse tree, which leaves out literal values, parameter
// numbers, the length of IN lists, comments, letter case and whitespace,
// and keeps every name (relations, columns, functions) and the structure.
// "DELETE FROM orders WHERE id = 5" and "delete from orders where id=6"
// have the same fingerprint; "DELETE FROM orders" has another. Approval
// grants are keyed on it.
//
// Text the PostgreSQL parser refuses has no fingerprint: the error says
// why.
func Fingerprint(sql string) (string, error) {
	if why := tooDeep(sql); why != "" {
		return "", fmt.Errorf("sqlclass: fingerprint: %s", why)
	}
	fp, err := pg_query.Fingerprint(sql)
	if err != nil {
		return "", fmt.Errorf("sqlclass: fingerprint: %w", err)
	}
	return fp, nil
}
