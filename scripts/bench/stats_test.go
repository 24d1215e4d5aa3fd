package main

import (
	"math"
	"testing"
)

func TestMedianInterval(t *testing.T) {
	tests := []struct {
		name             string
		values           []float64
		lo, hi, coverage float64
		ok               bool
	}{
		{name: "five values are too few", values: []float64{1, 2, 3, 4, 5}},
		{name: "six values: the extremes", values: []float64{1, 2, 3, 4, 5, 6}, lo: 1, hi: 6, coverage: 1 - 2.0/64, ok: true},
		{name: "nine values: second and eighth", values: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}, lo: 2, hi: 8, coverage: 1 - 20.0/512, ok: true},
		{name: "fifteen values: fourth and twelfth", values: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, lo: 4, hi: 12, coverage: 1 - 2*576.0/32768, ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi, cov, ok := medianInterval(tc.values)
			if ok != tc.ok || lo != tc.lo || hi != tc.hi || math.Abs(cov-tc.coverage) > 1e-12 {
				t.Errorf("medianInterval = %v, %v, %v, %v; want %v, %v, %v, %v", lo, hi, cov, ok, tc.lo, tc.hi, tc.coverage, tc.ok)
			}
		})
	}
}
