package record

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sluicehq/sluice/pkg/record/headlog"
)

// The syncer is the store's one goroutine. Every FsyncInterval it writes
// out the events queued by AppendLater and syncs the recordings written to
// since the last round (fdatasync, one per file: the group commit), the
// directories that gained entries, then logs the heads of the recordings
// closed since, in one head log append, and only then removes their open
// markers. Retention runs on the same goroutine, so the head log has a
// single writer.
//
// A second goroutine writes out, every ResultInterval, the queued events
// still waiting for their session's next event (a session gone quiet
// after a statement), without syncing: on a goroutine of its own, so that
// a round's fdatasync, retention, or a session blocked in write(2) does
// not hold them back, and so that a write the round could not make (disk
// full) is tried again without waiting for the session.

func (s *Store) loop() {
	defer close(s.done)
	st := time.NewTicker(s.opts.FsyncInterval)
	defer st.Stop()
	rt := time.NewTicker(s.opts.RetentionInterval)
	defer rt.Stop()
	for {
		select {
		case <-st.C:
			s.report(s.sync())
		case <-rt.C:
			s.report(s.retain())
		case ch := <-s.syncReq:
			ch <- s.sync()
		case ch := <-s.retainReq:
			ch <- s.retain()
		case <-s.stop:
			s.report(s.sync())
			return
		}
	}
}

func (s *Store) report(err error) {
	if err != nil {
		s.opts.OnError(err)
	}
}

// closing hands a closed recording to the syncer.
func (s *Store) closing(c *closing) {
	s.mu.Lock()
	delete(s.open, c.r.id)
	s.pending = append(s.pending, c)
	s.mu.Unlock()
}

// resultLoop writes queued events every ResultInterval until the store
// stops.
func (s *Store) resultLoop() {
	defer close(s.resultsDone)
	t := time.NewTicker(s.opts.ResultInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.writeQueued()
		case <-s.stop:
			return
		}
	}
}

// writeQueued writes the events AppendLater queued in every open
// recording. A recording whose lock is held is skipped: whoever holds it
// (an Append, a sync round's flush, Close) writes the queued events
// itself, or they wait for the next tick; so one session blocked in
// write(2) holds up no other. A failure leaves them queued: the session's
// next Append fails as a whole, and the next sync round reports it.
func (s *Store) writeQueued() {
	s.mu.Lock()
	var queued []*Recording
	for _, r := range s.open {
		if r.queued.Load() {
			queued = append(queued, r)
		}
	}
	s.mu.Unlock()
	for _, r := range queued {
		if !r.mu.TryLock() {
			continue
		}
		_ = r.flush()
		r.mu.Unlock()
	}
}

func (s *Store) sync() error {
	s.mu.Lock()
	var dirty []*Recording
	for _, r := range s.open {
		if r.dirty.Load() {
			dirty = append(dirty, r)
		}
	}
	pending := s.pending
	s.pending = nil
	dirs := s.dirtyDirs
	s.dirtyDirs = map[string]bool{}
	s.mu.Unlock()

	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for _, r := range dirty {
		// Results queued by AppendLater go out first, so the sync covers
		// them; the flag is cleared after that write, which the sync
		// covers too, so that the next round does not sync it again.
		r.mu.Lock()
		err := r.flush()
		r.dirty.Store(false)
		r.mu.Unlock()
		if err != nil {
			// They stay queued: the session's next Append (or its
			// end) tries again, and fails as a whole if it cannot.
			note(fmt.Errorf("record: %w", err))
		}
	}
	for _, err := range syncAll(dirty) {
		note(err)
	}
	var retry, logged []*closing
	var recs []headlog.Record
	loggedAt := map[*closing]time.Time{}
	for _, c := range pending {
		if !c.sealed {
			c.r.mu.Lock()
			err := c.r.seal(c.sum, c.cut)
			c.r.mu.Unlock()
			if err != nil {
				retry = append(retry, c)
				note(fmt.Errorf("record: closing %s: %w", c.r.rel, err))
				continue
			}
			c.sealed = true
		}
		if err := unix.Fdatasync(int(c.r.f.Fd())); err != nil {
			note(fmt.Errorf("record: fsync %s: %w", c.r.rel, err))
		}
		dirs[filepath.Dir(filepath.Join(s.dir, c.r.rel))] = true
		h, n := c.r.head()
		at := s.now()
		loggedAt[c] = at
		recs = append(recs, headlog.Record{Type: headlog.TypeHead, Session: c.r.id, Path: c.r.rel, Events: n, Head: h.String(), Time: at})
		logged = append(logged, c)
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			note(fmt.Errorf("record: fsync %s: %w", d, err))
		}
	}
	if len(recs) > 0 {
		if err := s.log.Append(recs); err != nil {
			note(fmt.Errorf("record: %w", err))
			if !errors.Is(err, headlog.ErrNotDurable) {
				retry = append(retry, logged...)
				logged = nil
			}
		}
	}
	for _, c := range logged {
		c.r.f.Close()
		os.Remove(filepath.Join(s.dir, dirOpen, c.r.id))
	}
	s.mu.Lock()
	for _, c := range logged {
		h, _ := c.r.head()
		s.live[c.r.id] = liveEntry{rel: c.r.rel, head: h.String(), logged: loggedAt[c]}
	}
	s.pending = append(retry, s.pending...)
	if len(logged) > 0 {
		s.dirtyDirs[filepath.Join(s.dir, dirOpen)] = true
	}
	s.mu.Unlock()
	return firstErr
}

// syncWorkers bounds the fdatasync calls in flight at once.
const syncWorkers = 8

// syncAll fdatasyncs the recordings concurrently: the block layer (or
// the filesystem's journal) then merges their cache flushes, where one
// call after the other would pay a device flush each. A recording whose
// sync fails refuses every later event: Linux may have dropped its
// unsynced pages, so it can no longer promise what it holds.
func syncAll(rs []*Recording) []error {
	if len(rs) == 0 {
		return nil
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan *Recording)
	)
	for range min(len(rs), syncWorkers) {
		wg.Go(func() {
			for r := range next {
				if err := unix.Fdatasync(int(r.f.Fd())); err != nil {
					r.fail(fmt.Errorf("fsync: %w", err))
					mu.Lock()
					errs = append(errs, fmt.Errorf("record: fsync %s: %w", r.rel, err))
					mu.Unlock()
				}
			}
		})
	}
	for _, r := range rs {
		next <- r
	}
	close(next)
	wg.Wait()
	return errs
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
