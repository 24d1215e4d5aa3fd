package sqlclass

import (
	"regexp"
	"testing"
)

func TestFingerprint(t *testing.T) {
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	cases := []struct {
		name string
		a, b string
		same bool
	}{
		{"literal values", "DELETE FROM orders WHERE id = 5", "DELETE FROM orders WHERE id = 6", true},
		{"case and whitespace", "DELETE FROM orders WHERE id = 5", "delete   from orders\n where id=5", true},
		{"comments", "UPDATE sales.orders SET total = 0 WHERE id = 1", "/* fix */ UPDATE sales.orders SET total = 0 WHERE id = 1 -- later", true},
		{"parameters", "SELECT * FROM t WHERE a = $1", "SELECT * FROM t WHERE a = $2", true},
		{"in list length", "SELECT * FROM t WHERE a IN (1, 2)", "SELECT * FROM t WHERE a IN (1, 2, 3, 4)", true},
		{"another table", "DELETE FROM orders WHERE id = 5", "DELETE FROM customers WHERE id = 5", false},
		{"no filter", "DELETE FROM orders WHERE id = 5", "DELETE FROM orders", false},
		{"another column", "UPDATE t SET a = 1", "UPDATE t SET b = 1", false},
		{"another schema", "DROP TABLE sales.orders", "DROP TABLE public.orders", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Fingerprint(tc.a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Fingerprint(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if !hex16.MatchString(a) || !hex16.MatchString(b) {
				t.Fatalf("fingerprints %q, %q are not 16 hex digits", a, b)
			}
			if (a == b) != tc.same {
				t.Errorf("Fingerprint(%q) = %s, Fingerprint(%q) = %s; same = %v, want %v", tc.a, a, tc.b, b, a == b, tc.same)
			}
		})
	}
}

func TestFingerprintUnparseable(t *testing.T) {
	for _, sql := range []string{"DELET FROM orders", "SELECT * FROM", "SELECT 'unterminated"} {
		if fp, err := Fingerprint(sql); err == nil {
			t.Errorf("Fingerprint(%q) = %q, want an error", sql, fp)
		}
	}
}

// FuzzFingerprint: any text gives a fingerprint or an error, never a
// panic; a fingerprint is always 16 hex digits.
func FuzzFingerprint(f *testing.F) {
	for _, s := range []string{
		"DELETE FROM orders WHERE id = 5",
		"SELECT 1; SELECT 2",
		"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
		"",
		"\x00",
		"SELECT $$unterminated",
	} {
		f.Add(s)
	}
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	f.Fuzz(func(t *testing.T, sql string) {
		fp, err := Fingerprint(sql)
		if err == nil && !hex16.MatchString(fp) {
			t.Fatalf("Fingerprint(%q) = %q", sql, fp)
		}
	})
}
