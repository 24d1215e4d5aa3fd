package record

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/sluicehq/sluice/pkg/record/headlog"
)

// Retention removes closed recordings, oldest first (by the time of their
// last write), while they are older than MaxAge or while the store's
// recordings, open ones included, take more than MaxBytes. Only
// recordings in the head log are candidates, so an open one, or one
// whose head is not logged yet, is never removed. Before any file is
// removed, an "expire" record naming it and its head is appended to the
// head log; verify then tells a recording removed by retention from one
// deleted behind sluice's back. A logged recording whose file is already
// missing is left alone (not expired), so that verify reports it.

// Expire reasons in the head log.
const (
	ExpireMaxAge  = "max_age"
	ExpireMaxSize = "max_size"
)

type candidate struct {
	id   string
	live liveEntry
	size int64
}

func (s *Store) retain() error {
	if s.opts.MaxAge <= 0 && s.opts.MaxBytes <= 0 {
		return nil
	}
	s.mu.Lock()
	live := make(map[string]liveEntry, len(s.live))
	for id, l := range s.live {
		live[id] = l
	}
	var total int64
	for _, r := range s.open {
		total += r.sizeNow()
	}
	for _, c := range s.pending {
		total += c.r.sizeNow()
	}
	s.mu.Unlock()

	cands := make([]candidate, 0, len(live))
	for id, l := range live {
		fi, err := os.Stat(filepath.Join(s.dir, l.rel))
		if err != nil {
			continue
		}
		cands = append(cands, candidate{id: id, live: l, size: fi.Size()})
		total += fi.Size()
	}
	sort.Slice(cands, func(i, j int) bool {
		if !cands[i].live.logged.Equal(cands[j].live.logged) {
			return cands[i].live.logged.Before(cands[j].live.logged)
		}
		return cands[i].live.rel < cands[j].live.rel
	})
	now := s.now()
	var victims []candidate
	var recs []headlog.Record
	for _, c := range cands {
		reason := ""
		switch {
		case s.opts.MaxAge > 0 && now.Sub(c.live.logged) > s.opts.MaxAge:
			reason = ExpireMaxAge
		case s.opts.MaxBytes > 0 && total > s.opts.MaxBytes:
			reason = ExpireMaxSize
		default:
			continue
		}
		total -= c.size
		victims = append(victims, c)
		recs = append(recs, headlog.Record{Type: headlog.TypeExpire, Session: c.id, Path: c.live.rel, Head: c.live.head, Reason: reason, Time: now})
	}
	if len(recs) == 0 {
		return nil
	}
	var firstErr error
	if err := s.log.Append(recs); err != nil {
		if !errors.Is(err, headlog.ErrNotDurable) {
			return fmt.Errorf("record: retention: %w", err)
		}
		firstErr = fmt.Errorf("record: retention: %w", err) // logged all the same: go on
	}
	for _, v := range victims {
		s.mu.Lock()
		delete(s.live, v.id)
		s.mu.Unlock()
		p := filepath.Join(s.dir, v.live.rel)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
			firstErr = fmt.Errorf("record: retention: %w", err)
		}
		// Remove the day, month and year directories once empty.
		d := filepath.Dir(p)
		for range 3 {
			if os.Remove(d) != nil {
				break
			}
			d = filepath.Dir(d)
		}
	}
	return firstErr
}

// sizeNow returns the bytes written so far.
func (r *Recording) sizeNow() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.size
}
