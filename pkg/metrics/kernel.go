package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/pkg/intercept"
)

// KernelSource is what the kernel collector reads at scrape time.
type KernelSource interface {
	Occupancy() (map[string]intercept.Usage, error)
	Stats() (intercept.Stats, error)
}

// kernelCollector exports map fill levels and the programs' counters.
type kernelCollector struct {
	src      KernelSource
	entries  *prometheus.Desc
	capacity *prometheus.Desc
	events   *prometheus.Desc
}

// RegisterKernel adds the BPF map and program counters to the registry.
func (m *Metrics) RegisterKernel(src KernelSource) {
	m.Registry.MustRegister(&kernelCollector{
		src:      src,
		entries:  prometheus.NewDesc("sluice_bpf_map_entries", "Entries in a BPF map.", []string{"map"}, nil),
		capacity: prometheus.NewDesc("sluice_bpf_map_capacity", "Maximum entries of a BPF map.", []string{"map"}, nil),
		events: prometheus.NewDesc("sluice_bpf_events_total",
			"Decisions counted by the kernel programs, by kind.", []string{"kind"}, nil),
	})
}

func (c *kernelCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.entries
	ch <- c.capacity
	ch <- c.events
}

func (c *kernelCollector) Collect(ch chan<- prometheus.Metric) {
	if occ, err := c.src.Occupancy(); err == nil {
		for name, u := range occ {
			ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(u.Entries), name)
			ch <- prometheus.MustNewConstMetric(c.capacity, prometheus.GaugeValue, float64(u.Capacity), name)
		}
	}
	st, err := c.src.Stats()
	if err != nil {
		return
	}
	for kind, v := range st.Named() {
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.CounterValue, float64(v), kind)
	}
}
