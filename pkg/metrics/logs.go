package metrics

import "github.com/prometheus/client_golang/prometheus"

// EventReaders holds the metrics of `sluice logs` readers of the event
// stream.
type EventReaders struct {
	// Readers is the number of readers connected now.
	Readers prometheus.Gauge
	// Dropped counts events readers lost because they fell behind.
	Dropped prometheus.Counter
}

// RegisterEventReaders adds the event reader metrics to the registry and
// returns them. Call it once per Metrics.
func (m *Metrics) RegisterEventReaders() *EventReaders {
	r := &EventReaders{
		Readers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_event_readers",
			Help: "Readers following the event stream (sluice logs) now.",
		}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_event_reader_dropped_total",
			Help: "Events that readers of the event stream lost because they fell behind.",
		}),
	}
	m.Registry.MustRegister(r.Readers, r.Dropped)
	return r
}
