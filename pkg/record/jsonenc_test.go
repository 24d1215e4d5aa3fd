package record

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendTime checks the hand-made time format against AppendFormat.
func TestAppendTime(t *testing.T) {
	cases := []time.Time{
		time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 29, 2, 30, 0, 500, time.FixedZone("CEST", 2*3600)),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		cases = append(cases, time.Unix(rng.Int64N(253402300800), rng.Int64N(1e9)))
	}
	for _, tm := range cases {
		want := `"` + tm.UTC().Format(timeLayout) + `"`
		if got := string(appendTime(nil, tm)); got != want {
			t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
