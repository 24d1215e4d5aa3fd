package sqlclass

import "testing"

// TestCopyDirectionAndFormat checks what COPY statements report beyond
// their kind: whether the data goes to the client, and in which format.
func TestCopyDirectionAndFormat(t *testing.T) {
	c := newTestClassifier(t, Options{})
	for _, tc := range []struct {
		name        string
		sql         string
		out, binary bool
	}{
		{name: "table to stdout", sql: "COPY customers TO STDOUT", out: true},
		{name: "query to stdout as csv", sql: "COPY (SELECT * FROM customers) TO STDOUT WITH (FORMAT csv, HEADER)", out: true},
		{name: "explicit text format", sql: "COPY customers TO STDOUT (FORMAT text)", out: true},
		{name: "binary format option", sql: "COPY customers TO STDOUT (FORMAT binary)", out: true, binary: true},
		{name: "binary format as a string", sql: "COPY customers TO STDOUT (FORMAT 'binary')", out: true, binary: true},
		{name: "binary keyword after WITH", sql: "COPY customers TO STDOUT WITH BINARY", out: true, binary: true},
		{name: "binary keyword before the table", sql: "COPY BINARY customers TO STDOUT", out: true, binary: true},
		{name: "upper-case format name is not text", sql: `COPY customers TO STDOUT (FORMAT "CSV")`, out: true, binary: true},
		{name: "delete returning to stdout is still out", sql: "COPY (DELETE FROM customers RETURNING *) TO STDOUT", out: true},
		{name: "from stdin", sql: "COPY customers FROM STDIN (FORMAT binary)", binary: true},
		{name: "to a server file", sql: "COPY customers TO '/tmp/c.csv'"},
		{name: "to a program", sql: "COPY customers TO PROGRAM 'gzip > /tmp/c.gz'"},
		{name: "not a copy", sql: "SELECT 'COPY t TO STDOUT BINARY'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Twice: the second answer comes from the cache.
			for range 2 {
				st, err := c.ClassifyOne(NewSession("alice", nil), tc.sql)
				if err != nil {
					t.Fatal(err)
				}
				if st.CopyOut != tc.out || st.CopyBinary != tc.binary {
					t.Errorf("%q: CopyOut %v CopyBinary %v, want %v %v", tc.sql, st.CopyOut, st.CopyBinary, tc.out, tc.binary)
				}
			}
		})
	}
}
