package main

import "sort"

func sorted(v []float64) []float64 {
	out := append([]float64(nil), v...)
	sort.Float64s(out)
	return out
}

// medianInterval returns a distribution-free confidence interval of the
// median of the population s (sorted) was drawn from: the order statistics
// s[k-1] and s[n-k] for the largest k whose interval covers the median
// with a probability of at least 95% (the number of values below the
// median is binomial, n and 1/2). coverage is that probability. ok is
// false for fewer than 6 values, too few for any such interval.
func medianInterval(s []float64) (lo, hi, coverage float64, ok bool) {
	n := len(s)
	// tail[j] = P(B ≤ j) for B ~ Binomial(n, 1/2).
	tail := make([]float64, n+1)
	p, c := 0.0, 1.0 // c = C(n, j)
	for j := 0; j <= n; j++ {
		if j > 0 {
			c = c * float64(n-j+1) / float64(j)
		}
		p += c
		tail[j] = p
	}
	total := tail[n]
	k := 0
	for j := 1; 2*j <= n; j++ {
		if 2*tail[j-1]/total <= 0.05 {
			k = j
		}
	}
	if k == 0 {
		return 0, 0, 0, false
	}
	return s[k-1], s[n-k], 1 - 2*tail[k-1]/total, true
}

// median returns the median of v (the mean of the middle two of an even
// count).
func median(v []float64) float64 {
	s := sorted(v)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
