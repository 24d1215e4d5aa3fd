package main

import (
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name       string
		stat       string
		busy, idle time.Duration
		err        bool
	}{
		{
			name: "steal is neither busy nor idle",
			stat: "cpu  100 2 30 400 5 6 7 800 0 0\ncpu0 50 1 15 200 2 3 3 400 0 0\n",
			busy: (100 + 2 + 30 + 6 + 7) * 10 * time.Millisecond,
			idle: (400 + 5) * 10 * time.Millisecond,
		},
		{name: "a cpuN line first", stat: "cpu0 1 2 3 4 5 6 7 8\n", err: true},
		{name: "too few fields", stat: "cpu 1 2 3\n", err: true},
		{name: "not a number", stat: "cpu 1 2 x 4 5 6 7 8\n", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			busy, idle, err := parseProcStat([]byte(tc.stat))
			if (err != nil) != tc.err || busy != tc.busy || idle != tc.idle {
				t.Errorf("parseProcStat = %v, %v, %v; want %v, %v, error %v", busy, idle, err, tc.busy, tc.idle, tc.err)
			}
		})
	}
}
