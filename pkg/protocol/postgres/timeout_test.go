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
		{"5m", 0, false}, // m is not a unit of time in PostgreSQL
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
