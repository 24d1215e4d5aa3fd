package record

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
)

// fileSize returns the size of path.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestAppendLater writes pgEvents with their results queued: a result is
// numbered and chained at once, reaches the file with the next event, at
// a sync round, or at Close, and the recording reads back as if every
// event had been appended on its own.
func TestAppendLater(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		name := "plain"
		opts := Options{FsyncInterval: time.Hour, ResultInterval: time.Hour, SampleRows: 5}
		var ropts ReadOptions
		if encrypted {
			name = "encrypted"
			id, err := age.GenerateX25519Identity()
			if err != nil {
				t.Fatal(err)
			}
			opts.Recipients = []string{id.Recipient().String()}
			ropts.Identities = []age.Identity{id}
		}
		t.Run(name, func(t *testing.T) {
			s, dir := openStore(t, opts)
			r, err := s.Create(pgHeader(idA))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, r.Path())
			evs := pgEvents()
			for i, ev := range evs[:2] { // login, SELECT
				if seq, err := r.Append(ev); err != nil || seq != uint64(i+1) {
					t.Fatalf("Append %d: %d, %v", i, seq, err)
				}
			}
			before := fileSize(t, path)
			if seq, err := r.AppendLater(evs[2]); err != nil || seq != 3 {
				t.Fatalf("AppendLater: %d, %v; want seq 3", seq, err)
			}
			if got := fileSize(t, path); got != before {
				t.Errorf("AppendLater wrote %d bytes, want none before the next event", got-before)
			}
			if n := events(t, path); n != 3 {
				t.Errorf("%d events on disk with a result queued, want 3", n)
			}
			if seq, err := r.Append(evs[3]); err != nil || seq != 4 {
				t.Fatalf("Append after AppendLater: %d, %v; want seq 4", seq, err)
			}
			if n := events(t, path); n != 5 {
				t.Errorf("%d events on disk after the next Append, want 5 (the queued result went with it)", n)
			}
			if seq, err := r.AppendLater(evs[4]); err != nil || seq != 5 {
				t.Fatalf("AppendLater: %d, %v; want seq 5", seq, err)
			}
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			if n := events(t, path); n != 6 {
				t.Errorf("%d events on disk after a sync round, want 6", n)
			}
			if _, err := r.AppendLater(&Result{Statement: 4, Duration: time.Millisecond}); err != nil {
				t.Fatal(err)
			}
			if err := r.Close(Summary{Reason: "client_closed"}); err != nil {
				t.Fatal(err)
			}
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			if _, err := r.AppendLater(&Result{Statement: 4}); !errors.Is(err, ErrClosed) {
				t.Errorf("AppendLater after Close: %v, want ErrClosed", err)
			}
			rd, entries := readAll(t, path, ropts)
			want := append(evs, &Result{Statement: 4, Duration: time.Millisecond})
			if len(entries) != len(want)+1 {
				t.Fatalf("%d events read, want %d and the end", len(entries), len(want))
			}
			for i, ev := range want {
				got, err := entries[i].Decode()
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, ev) || entries[i].Seq != uint64(i+1) {
					t.Errorf("event %d (seq %d):\n%#v\nwant\n%#v", i+1, entries[i].Seq, got, ev)
				}
			}
			if end := rd.End(); end == nil || end.Events != 8 || end.Statements != 2 {
				t.Errorf("end %+v, want 8 events, 2 statements", end)
			}
			rep, err := Verify(dir, VerifyOptions{PublicKey: s.PublicKey()})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) > 0 || len(rep.Recordings) != 1 || rep.Recordings[0].State != StateOK {
				t.Errorf("verify: %+v", rep)
			}
		})
	}
}

// queryThenResult appends pgEvents' SELECT to r and queues its result.
func queryThenResult(t *testing.T, r *Recording) {
	t.Helper()
	evs := pgEvents()
	if _, err := r.Append(evs[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AppendLater(evs[2]); err != nil {
		t.Fatal(err)
	}
}

// waitEvents waits up to 10 s for path to hold n events and returns how
// many it holds.
func waitEvents(t *testing.T, path string, n uint64) uint64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for events(t, path) != n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return events(t, path)
}

// TestAppendLaterQuietSession: a result queued by a session that sends
// nothing more is written once it has waited ResultInterval, long before
// the next sync round, and the round still syncs it.
func TestAppendLaterQuietSession(t *testing.T) {
	s, dir := openStore(t, Options{FsyncInterval: time.Hour, ResultInterval: 10 * time.Millisecond})
	r, err := s.Create(pgHeader(idA))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, r.Path())
	queryThenResult(t, r)
	if n := waitEvents(t, path, 3); n != 3 {
		t.Fatalf("%d events on disk: the queued result of a quiet session was not written", n)
	}
	r.mu.Lock()
	queued := r.queued.Load()
	r.mu.Unlock()
	if queued {
		t.Error("the recording still says it has queued lines after they were written")
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if n := events(t, path); n != 3 {
		t.Errorf("%d events after the sync round, want 3", n)
	}
}

// TestAppendLaterNotHeldBySync: a quiet session's result is written while
// a sync round is stuck on another recording (its lock held, as by an
// Append blocked in write(2), or a long fdatasync): the result writer has
// a goroutine of its own and passes over busy recordings.
func TestAppendLaterNotHeldBySync(t *testing.T) {
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"defaults", Options{}},
		{"long fsync interval", Options{FsyncInterval: time.Hour, ResultInterval: 5 * time.Millisecond}},
	} {
		t.Run(c.name, func(t *testing.T) { notHeldBySync(t, c.opts) })
	}
}

func notHeldBySync(t *testing.T, opts Options) {
	s, dir := openStore(t, opts)
	busy, err := s.Create(pgHeader(idA))
	if err != nil {
		t.Fatal(err)
	}
	queryThenResult(t, busy)
	busy.mu.Lock()
	held := true
	t.Cleanup(func() { // a t.Fatal below must not leave the syncer stuck
		if held {
			busy.mu.Unlock()
		}
	})
	synced := make(chan error, 1)
	go func() { synced <- s.Sync() }() // stops at busy
	// Let it get there (a writer that waited for busy would be stuck by
	// now, whichever recording it came to first).
	time.Sleep(50 * time.Millisecond)
	quiet, err := s.Create(pgHeader(idB))
	if err != nil {
		t.Fatal(err)
	}
	queryThenResult(t, quiet)
	n := waitEvents(t, filepath.Join(dir, quiet.Path()), 3)
	held = false
	busy.mu.Unlock()
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d events on disk while another recording was busy: the quiet session's result waited for it", n)
	}
	if got := events(t, filepath.Join(dir, busy.Path())); got != 3 {
		t.Errorf("the busy recording has %d events after the sync round, want 3 (its queued result written by the round)", got)
	}
}

// TestAppendLaterQuietSessionDiskFull: a queued result the result writer
// cannot write stays queued, nothing of it in the file, and goes out once
// there is room, still without a next event.
func TestAppendLaterQuietSessionDiskFull(t *testing.T) {
	mnt := smallFS(t)
	dir := filepath.Join(mnt, "recordings")
	s := openAt(t, dir, installKey(t, t.TempDir()), Options{FsyncInterval: time.Hour, ResultInterval: 5 * time.Millisecond, OnError: func(error) {}})
	r, err := s.Create(pgHeader(idA))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, r.Path())
	if _, err := r.Append(pgEvents()[1]); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	fill(t, filler)
	// Use up the room left in the file's last page, with the queue empty,
	// with lines as long as the queued one (or one digit shorter).
	res := &Result{Statement: 1, Rows: 2, HasRows: true}
	for {
		if _, err := r.Append(res); err != nil {
			break
		}
	}
	size := fileSize(t, path)
	if _, err := r.AppendLater(res); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // ten ticks of the result writer
	// Look with the lock held: the writer, trying again, may be between a
	// partial write and cutting it off.
	r.mu.Lock()
	got, n := fileSize(t, path), events(t, path)
	queued := r.queued.Load() && len(r.later) > 0
	r.mu.Unlock()
	if got != size {
		t.Fatalf("the file went from %d to %d bytes on a full disk", size, got)
	}
	if !queued {
		t.Fatal("the result that could not be written is no longer queued")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if got := waitEvents(t, path, n+1); got != n+1 {
		t.Fatalf("%d events on disk: the queued result was not written once there was room", got)
	}
}

// TestSyncRoundClearsDirty: a round that writes out queued results syncs
// them too, so the next round has nothing to sync for that recording.
func TestSyncRoundClearsDirty(t *testing.T) {
	s, _ := openStore(t, Options{FsyncInterval: time.Hour, ResultInterval: time.Hour})
	r, err := s.Create(pgHeader(idA))
	if err != nil {
		t.Fatal(err)
	}
	queryThenResult(t, r)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if r.dirty.Load() {
		t.Error("after a sync round that wrote the queued result, the recording is still marked to be synced again")
	}
}

// TestResultIntervalBound: ResultInterval is never longer than
// FsyncInterval.
func TestResultIntervalBound(t *testing.T) {
	for _, c := range []struct {
		name       string
		opts       Options
		wantResult time.Duration
	}{
		{"defaults", Options{}, DefaultResultInterval},
		{"sync rounds more often", Options{FsyncInterval: 20 * time.Millisecond}, 20 * time.Millisecond},
		{"set", Options{FsyncInterval: time.Minute, ResultInterval: time.Second}, time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := openStore(t, c.opts)
			if got := s.opts.ResultInterval; got != c.wantResult {
				t.Errorf("ResultInterval %s, want %s", got, c.wantResult)
			}
		})
	}
}

// TestAppendLaterBounded: past maxLater queued bytes, a result is written
// at once rather than held.
func TestAppendLaterBounded(t *testing.T) {
	s, dir := openStore(t, Options{FsyncInterval: time.Hour, ResultInterval: time.Hour, SampleRows: 100})
	r, err := s.Create(pgHeader(idA))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, r.Path())
	cells := make([][]string, 100)
	for i := range cells {
		cells[i] = []string{strings.Repeat("x", 200)}
	}
	big := &Result{Statement: 1, HasRows: true, Rows: 100, Sample: &Sample{Columns: []string{"c"}, Rows: cells}}
	written := false
	for i := 0; i < 20 && !written; i++ {
		if _, err := r.AppendLater(big); err != nil {
			t.Fatal(err)
		}
		written = events(t, path) > 1
	}
	if !written {
		t.Fatal("queued results were never written without a next event")
	}
	r.mu.Lock()
	queued := len(r.later)
	r.mu.Unlock()
	if queued > maxLater {
		t.Errorf("%d bytes queued, more than %d", queued, maxLater)
	}
}

// TestAppendLaterDiskFull: a queued result whose write fails with the next
// statement stays queued; the statement fails as a whole, and both go out
// once there is room.
func TestAppendLaterDiskFull(t *testing.T) {
	mnt := smallFS(t)
	dir := filepath.Join(mnt, "recordings")
	s := openAt(t, dir, installKey(t, t.TempDir()), Options{FsyncInterval: time.Hour, ResultInterval: time.Hour, OnError: func(error) {}})
	r, err := s.Create(pgHeader(idA))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, r.Path())
	evs := pgEvents()
	if _, err := r.Append(evs[1]); err != nil {
		t.Fatal(err)
	}
	if seq, err := r.AppendLater(&Result{Statement: 1, Rows: 2, HasRows: true}); err != nil || seq != 2 {
		t.Fatalf("AppendLater: %d, %v", seq, err)
	}
	filler := filepath.Join(mnt, "filler")
	fill(t, filler)
	// Use up the room left in the file's last page.
	for {
		if _, err := r.Append(&Login{User: "etl_reader"}); err != nil {
			if !errors.Is(err, ErrWrite) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Append on a full disk: %v, want ErrWrite and ENOSPC", err)
			}
			break
		}
		if _, err := r.AppendLater(&Result{Statement: 1}); err != nil {
			t.Fatal(err)
		}
	}
	onDisk := events(t, path)
	if err := s.Sync(); !errors.Is(err, ErrWrite) {
		t.Errorf("Sync with queued results on a full disk: %v, want ErrWrite", err)
	}
	if n := events(t, path); n != onDisk {
		t.Errorf("%d events after a failed sync, want %d", n, onDisk)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	seq, err := r.Append(evs[3])
	if err != nil {
		t.Fatalf("Append after space returned: %v", err)
	}
	if n := events(t, path); n != seq+1 || n != onDisk+2 {
		t.Errorf("%d events after space returned (last seq %d, %d before), want the queued result and the statement", n, seq, onDisk)
	}
}
