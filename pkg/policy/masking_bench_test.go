package policy

import "testing"

// BenchmarkDecideMasking decides as BenchmarkDecide's policies=10/rules=10
// case, with a masking: block in every policy: every decision carries
// their merge.
func BenchmarkDecideMasking(b *testing.B) {
	s := benchSetWith(b, 10, 10, "    masking: {detectors: [defaults], columns: [{match: \"*email*\", strategy: hash}]}\n")
	r := pg("legacy-etl", "orders-db", benchStatement)
	if d := s.Decide(r); d.Action != Allow || d.Masking == nil || len(d.Masking.Policies) != 10 {
		b.Fatalf("decision %+v", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Decide(r)
	}
}
