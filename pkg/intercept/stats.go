package intercept

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/cilium/ebpf"
)

// Stats are the counters kept by the programs, summed over CPUs.
type Stats struct {
	Redirect4         uint64 // IPv4 connects redirected
	Redirect6         uint64 // IPv6 connects redirected
	RedirectMapped    uint64 // IPv4-mapped IPv6 connects redirected
	Excluded          uint64 // tagged connects to excluded destinations
	SkippedMark       uint64 // tagged connects on sockets with the daemon's mark
	DeniedNoListener  uint64 // tagged connects refused: no listener of that family
	DeniedProtocol    uint64 // tagged connects refused: MPTCP
	RecordFailed      uint64 // records that could not be stored (connect refused)
	TupleStored       uint64 // records moved to their 4-tuple at TCP_CONNECT_CB
	TupleFailed       uint64 // records that could not be moved (proxy will reject)
	Closed            uint64 // redirected sockets that reached TCP_CLOSE
	PeernameRewritten uint64 // getpeername() answers rewritten
	DeniedBind        uint64 // binds of a proxy listener port by unmarked sockets, refused
}

// Stats reads the counters.
func (it *Interceptor) Stats() (Stats, error) {
	var s Stats
	fields := []*uint64{
		&s.Redirect4, &s.Redirect6, &s.RedirectMapped, &s.Excluded, &s.SkippedMark,
		&s.DeniedNoListener, &s.DeniedProtocol, &s.RecordFailed, &s.TupleStored,
		&s.TupleFailed, &s.Closed, &s.PeernameRewritten, &s.DeniedBind,
	}
	for i, f := range fields {
		var per []uint64
		if err := it.objs.Stats.Lookup(uint32(i), &per); err != nil {
			return s, fmt.Errorf("intercept: read stats: %w", err)
		}
		for _, v := range per {
			*f += v
		}
	}
	return s, nil
}

// Named returns the counters by the names used in metrics and status.
func (s Stats) Named() map[string]uint64 {
	return map[string]uint64{
		"redirect_ipv4": s.Redirect4, "redirect_ipv6": s.Redirect6, "redirect_mapped": s.RedirectMapped,
		"excluded": s.Excluded, "skipped_mark": s.SkippedMark, "denied_no_listener": s.DeniedNoListener,
		"denied_protocol": s.DeniedProtocol, "record_failed": s.RecordFailed, "tuple_stored": s.TupleStored,
		"tuple_failed": s.TupleFailed, "closed": s.Closed, "getpeername_rewritten": s.PeernameRewritten, "denied_bind": s.DeniedBind,
	}
}

// occupancyTTL is how long a count of the maps is reused.
const occupancyTTL = 2 * time.Second

// occupancyCache keeps the last count of the maps: walking full maps
// takes a system call per entry (some 175 ms for two full LRU maps), and
// anyone may ask for it (sluice status) as often as they like.
type occupancyCache struct {
	mu  sync.Mutex
	at  time.Time
	use map[string]Usage
}

// Occupancy counts the entries of each map that can fill up, keyed by map
// name. It walks the maps, at most once per occupancyTTL: callers in
// between get the last count.
func (it *Interceptor) Occupancy() (map[string]Usage, error) {
	c := &it.occ
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.use != nil && time.Since(c.at) < occupancyTTL {
		return maps.Clone(c.use), nil
	}
	use, err := it.countMaps()
	if err != nil {
		return nil, err
	}
	c.use, c.at = use, time.Now()
	return maps.Clone(use), nil
}

func (it *Interceptor) countMaps() (map[string]Usage, error) {
	out := map[string]Usage{}
	for name, m := range map[string]*ebpf.Map{
		"origins": it.objs.Origins, "tuples": it.objs.Tuples,
		"tagged_cgroups": it.objs.TaggedCgroups, "tagged_uids": it.objs.TaggedUids,
		"exclude4": it.objs.Exclude4, "exclude6": it.objs.Exclude6,
	} {
		n, err := countKeys(m)
		if err != nil {
			return nil, fmt.Errorf("intercept: count %s: %w", name, err)
		}
		out[name] = Usage{Entries: n, Capacity: int(m.MaxEntries())}
	}
	return out, nil
}

// Usage is a map's fill level.
type Usage struct {
	Entries  int
	Capacity int
}

func countKeys(m *ebpf.Map) (int, error) {
	key := make([]byte, m.KeySize())
	next := make([]byte, m.KeySize())
	n := 0
	var prev any // nil: start from the first key
	for {
		err := m.NextKey(prev, &next)
		if err != nil {
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				return n, nil
			}
			return n, err
		}
		n++
		copy(key, next)
		prev = key
		if n > int(m.MaxEntries())*2 { // concurrent churn: stop, it is an estimate
			return n, nil
		}
	}
}
