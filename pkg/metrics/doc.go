// Package metrics defines sluice's Prometheus metrics and serves them. The
// names and labels are part of the documented interface (docs/metrics.md).
package metrics
