package postgres

import (
	"testing"
	"time"
)

func TestParseTimeout(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5000", 5 * time.Second, true},
		{"0", 0, true},
		{"250ms", 250 * time.Millisecond, true},
		{"5s", 5 * time.Second, true},
		{" 5 s ", 5 * time.Second, true},
		{"2min", 2 * time.Minute, true},
		{"1h", time.Hour, true},
		{"1d", 24 * time.Hour, true},
		{"1.5s", 1500 * time.Millisecond, true},
		{"1500us", 2 * time.Millisecond, true},
		{"10us", time.Millisecond, true},
		{"", 0, false},
		{"5 fortnights", 0, false},
		{"-1", 0, false},
		{"5m", 0, false},  // m is not a unit of time in PostgreSQL
		{"30d", 0, false}, // over INT_MAX milliseconds
		{"abc", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseTimeout(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseTimeout(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParseTimeout: any text a client sets statement_timeout to gives a
// non-negative duration within the server's limit, or is refused.
func FuzzParseTimeout(f *testing.F) {
	for _, s := range []string{"5000", "250ms", " 1.5 s", "2min", "1d", "-1", "1e308", "NaN", "0x10", "9999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseTimeout(s)
		if !ok && d != 0 {
			t.Fatalf("parseTimeout(%q) = %v, false", s, d)
		}
		if d < 0 || d > time.Duration(1<<31-1)*time.Millisecond {
			t.Fatalf("parseTimeout(%q) = %v, out of range", s, d)
		}
	})
}
