// Package logsctl answers the logs operation of the control socket
// (`sluice logs`) from an audit.Stream: the events the daemon still holds,
// filtered, then, when the caller follows, every new one. A reader never
// slows the daemon down: one that falls behind loses events, and is told
// how many.
package logsctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/metrics"
)

// Bounds of a request, and the pace of a followed stream.
const (
	maxEvents     = 64
	maxLast       = 100000
	batchInterval = 20 * time.Millisecond
)

// Ops implements control.Streamer for control.OpLogs.
type Ops struct {
	Events *audit.Stream
	// Authorize returns nil when peer may read the events, else why not.
	Authorize func(peer control.Peer) error
	// Metrics counts readers and what they lost; nil counts nothing.
	Metrics *metrics.EventReaders
}

var _ control.Streamer = (*Ops)(nil)

// Stream answers control.OpLogs.
func (o *Ops) Stream(ctx context.Context, peer control.Peer, req control.Request, send func(control.Response) error) error {
	if req.Op != control.OpLogs {
		return errors.New("unknown operation " + req.Op)
	}
	if o.Events == nil {
		return errors.New("logs: the event stream is not available")
	}
	if err := o.Authorize(peer); err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	lr := control.LogsRequest{}
	if req.Logs != nil {
		lr = *req.Logs
	}
	f, err := newFilter(lr)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	if m := o.Metrics; m != nil {
		m.Readers.Inc()
		defer m.Readers.Dec()
	}

	h := o.Events.History()
	first := &control.LogsBatch{Complete: h.Complete}
	if !h.Oldest.IsZero() {
		t := h.Oldest.UTC()
		first.Oldest = &t
	}
	// What is held: from Since (or the oldest event) to now, the last
	// Last matching events of it, or none when only following.
	var cur audit.Cursor
	switch {
	case lr.Since != nil:
		cur = o.Events.Since(*lr.Since)
	case lr.Follow && lr.Last == 0:
		cur = o.Events.End()
	default:
		cur = o.Events.Since(time.Time{}) // the oldest held
	}
	end := o.Events.End()
	var held []json.RawMessage
	for cur < end {
		lines, next, _, err := o.Events.Read(ctx, cur, false)
		if err != nil {
			return err
		}
		for i, l := range lines {
			if next-audit.Cursor(len(lines)-i) >= end {
				break
			}
			if f.match(l) {
				held = append(held, l)
			}
		}
		if len(lines) == 0 {
			break
		}
		cur = min(next, end)
	}
	if lr.Last > 0 && len(held) > lr.Last {
		held = held[len(held)-lr.Last:]
	}
	first.Events = held
	first.End = !lr.Follow
	if err := send(control.Response{OK: true, Logs: first}); err != nil || !lr.Follow {
		return err
	}

	// Batches at most every batchInterval, as the daemon's own outputs
	// are written: a busy stream costs a reader one write per interval,
	// not one per event.
	pause := time.NewTicker(batchInterval)
	defer pause.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-pause.C:
		}
		lines, next, dropped, err := o.Events.Read(ctx, cur, true)
		if err != nil {
			if ctx.Err() != nil {
				return nil // the caller left, or the daemon is stopping
			}
			return err
		}
		cur = next
		b := &control.LogsBatch{Dropped: dropped}
		for _, l := range lines {
			if f.match(l) {
				b.Events = append(b.Events, l)
			}
		}
		if dropped > 0 && o.Metrics != nil {
			o.Metrics.Dropped.Add(float64(dropped))
		}
		if len(b.Events) == 0 && dropped == 0 {
			continue
		}
		// A reader removed from log.readers by a reload gets no more.
		if err := o.Authorize(peer); err != nil {
			return fmt.Errorf("logs: %w", err)
		}
		if err := send(control.Response{OK: true, Logs: b}); err != nil {
			return err
		}
	}
}

// eventName is what an event type or a prefix pattern may be.
var eventName = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?$`)

// filter decides which event lines a reader gets.
type filter struct {
	names    []string // exact event types
	prefixes []string // "db." for "db.*"
	identity string
	target   string
}

func newFilter(r control.LogsRequest) (*filter, error) {
	if len(r.Events) > maxEvents {
		return nil, fmt.Errorf("at most %d event types, got %d", maxEvents, len(r.Events))
	}
	if r.Last < 0 || r.Last > maxLast {
		return nil, fmt.Errorf("last must be between 0 and %d, got %d", maxLast, r.Last)
	}
	f := &filter{identity: r.Identity, target: r.Target}
	for _, e := range r.Events {
		if !eventName.MatchString(e) {
			return nil, fmt.Errorf("event type %q: write a type such as db.query, or a prefix such as db.*", clip(e))
		}
		if p, ok := strings.CutSuffix(e, "*"); ok {
			f.prefixes = append(f.prefixes, p)
		} else {
			f.names = append(f.names, e)
		}
	}
	return f, nil
}

// match reports whether line is a schema event (it has an `event` field:
// debug lines have none) that the filter selects.
func (f *filter) match(line []byte) bool {
	var ev struct {
		Event    string `json:"event"`
		Identity string `json:"identity"`
		Target   string `json:"target"`
	}
	if json.Unmarshal(line, &ev) != nil || ev.Event == "" {
		return false
	}
	if (f.identity != "" && ev.Identity != f.identity) || (f.target != "" && ev.Target != f.target) {
		return false
	}
	if len(f.names) == 0 && len(f.prefixes) == 0 {
		return true
	}
	return slices.Contains(f.names, ev.Event) || slices.ContainsFunc(f.prefixes, func(p string) bool {
		return strings.HasPrefix(ev.Event, p)
	})
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
