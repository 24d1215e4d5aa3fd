package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/cgroup"
)

// runTagLatency creates n cgroups that match an identity, one at a time, and
// measures from mkdir to the daemon's identity.tagged event (its timestamp:
// the tag is in the kernel map when the event is written).
func runTagLatency(e *benchEnv, n int) (section, error) {
	var lat []float64
	for i := 0; i < n; i++ {
		rel := fmt.Sprintf("root/late-%d", i)
		start := time.Now()
		if _, err := cgroup.Create(e.cg(rel)); err != nil {
			return section{}, err
		}
		at, err := e.waitTagged(filepath.Join(e.top, rel), 5*time.Second)
		_ = cgroup.Remove(e.cg(rel))
		if err != nil {
			return section{}, err
		}
		lat = append(lat, float64(at.Sub(start).Microseconds()))
	}
	sort.Float64s(lat)
	p := func(q float64) float64 { return lat[int(q*float64(len(lat)-1))] / 1000 }
	return section{
		title: "Tagging latency: new cgroup to tagged",
		text: fmt.Sprintf("%d cgroups matching an identity's `cgroup:` glob created one after another; time from "+
			"mkdir to the `identity.tagged` event (written after the kernel map update). Goal: within 100 ms.\n\n"+
			"| median | p90 | max |\n|---:|---:|---:|\n| %.2f ms | %.2f ms | %.2f ms |", n, p(0.5), p(0.9), p(1)),
	}, nil
}

// waitTagged polls the event log for the identity.tagged event of a cgroup.
func (e *benchEnv) waitTagged(path string, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		f, err := os.Open(filepath.Join(e.dir, "events.jsonl"))
		if err != nil {
			return time.Time{}, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var ev struct {
				Event  string `json:"event"`
				Cgroup string `json:"cgroup"`
				Time   string `json:"time"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event == audit.IdentityTagged && ev.Cgroup == path {
				f.Close()
				return time.Parse(audit.TimeFormat, ev.Time)
			}
		}
		f.Close()
		time.Sleep(time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("%s not tagged within %s", path, limit)
}
