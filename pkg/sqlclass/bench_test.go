package sqlclass

import (
	"fmt"
	"testing"
)

var benchQueries = []string{
	"SELECT id, name FROM users WHERE id = $1",
	"INSERT INTO events (user_id, kind, payload) VALUES ($1, $2, $3) RETURNING id",
	"UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance >= $1",
	"WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '1 day') SELECT c.name, count(*) FROM recent r JOIN customers c ON c.id = r.customer_id GROUP BY c.name ORDER BY 2 DESC LIMIT 10",
	"DELETE FROM sessions WHERE expires_at < now()",
	"BEGIN",
	"COMMIT",
	"SELECT * FROM jobs WHERE state = 'new' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1",
}

func BenchmarkClassify(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cache int
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			c := newTestClassifier(b, Options{CacheSize: bc.cache})
			s := NewSession("bench", nil)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := c.Classify(s, benchQueries[i%len(benchQueries)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Distinct texts: every query misses the cache and is inserted.
	b.Run("cache-miss", func(b *testing.B) {
		c := newTestClassifier(b, Options{})
		s := NewSession("bench", nil)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := c.Classify(s, fmt.Sprintf("SELECT * FROM t%d WHERE id = $1", i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClassifyShape is a job sending the same statement with new
// constants each time (pgbench -S in simple mode): the exact text misses
// the cache, its shape hits. "lexer" is the common case; "normalizer"
// takes the slower way (a parameter makes the lexer give up).
func BenchmarkClassifyShape(b *testing.B) {
	for _, bc := range []struct{ name, format string }{
		{"lexer", "SELECT abalance FROM pgbench_accounts WHERE aid = %d;"},
		{"normalizer", "SELECT abalance FROM pgbench_accounts WHERE aid = %d AND bid = $1;"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := newTestClassifier(b, Options{})
			s := NewSession("bench", nil)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := c.Classify(s, fmt.Sprintf(bc.format, i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
