package cgroup

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// eventTimeout bounds how long a test waits for an event. It only catches
// missing events; latency is measured and logged, not asserted.
const eventTimeout = 2 * time.Second

// runWatcher runs w in the background; cleanup stops it and checks that
// Run returned nil.
func runWatcher(t *testing.T, w *Watcher) chan Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan Event, 1024)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, events) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return events
}

func next(t *testing.T, events <-chan Event) Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(eventTimeout):
		t.Fatalf("no event within %v", eventTimeout)
	}
	return Event{}
}

// expect reads len(want) events and compares them with want; a zero ID in
// want matches any id.
func expect(t *testing.T, events <-chan Event, want ...Event) []Event {
	t.Helper()
	var got []Event
	for range want {
		got = append(got, next(t, events))
	}
	for i := range want {
		w := want[i]
		if w.ID == 0 {
			w.ID = got[i].ID
		}
		if got[i] != w {
			t.Fatalf("events:\n got %v\nwant %v", got, want)
		}
	}
	return got
}

func expectQuiet(t *testing.T, events <-chan Event, d time.Duration) {
	t.Helper()
	select {
	case ev := <-events:
		t.Fatalf("unexpected event %v", ev)
	case <-time.After(d):
	}
}

// inotifyWatches counts the watches of an inotify instance of this process.
func inotifyWatches(t *testing.T, fd int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "inotify wd:") {
			n++
		}
	}
	return n
}

func newTestWatcher(t *testing.T, m, root string) *Watcher {
	t.Helper()
	tr, err := NewTree(m, root)
	if err != nil {
		t.Fatal(err)
	}
	w, err := tr.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestWatcherInitialAndMkdirP(t *testing.T) {
	m := requirePrivileged(t)
	root := testCgroup(t, m)
	existing := root + "/existing"
	existingID := mustCreate(t, m, existing)
	rootID, err := ID(m + root)
	if err != nil {
		t.Fatal(err)
	}

	w := newTestWatcher(t, m, root)
	events := runWatcher(t, w)
	expect(t, events, Event{Added, root, rootID}, Event{Added, existing, existingID})

	// mkdir -p: the subtree appears faster than watches can be placed on
	// it, and must still be reported in full, parents first, once.
	start := time.Now()
	if err := os.MkdirAll(m+root+"/a/b/c", 0o755); err != nil {
		t.Fatal(err)
	}
	got := expect(t, events, Event{Kind: Added, Path: root + "/a"}, Event{Kind: Added, Path: root + "/a/b"}, Event{Kind: Added, Path: root + "/a/b/c"})
	t.Logf("mkdir -p a/b/c reported within %v", time.Since(start))
	for _, ev := range got {
		if id, _ := ID(m + ev.Path); id != ev.ID {
			t.Errorf("%v: ID says %d", ev, id)
		}
	}
	expectQuiet(t, events, 200*time.Millisecond)

	// Directory watches: parent of root, root, existing, a, a/b, a/b/c.
	if n := inotifyWatches(t, w.fd); n != 6 {
		t.Errorf("%d inotify watches, want 6", n)
	}

	// rmdir, children first: Removed carries the id from the index.
	for _, ev := range slices.Backward(got) {
		if err := Remove(m + ev.Path); err != nil {
			t.Fatal(err)
		}
		expect(t, events, Event{Removed, ev.Path, ev.ID})
	}
	if err := Remove(m + existing); err != nil {
		t.Fatal(err)
	}
	expect(t, events, Event{Removed, existing, existingID})

	// The watches of removed cgroups are gone too: cgroupfs does not drop
	// them by itself.
	deadline := time.Now().Add(eventTimeout)
	for inotifyWatches(t, w.fd) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d inotify watches left, want 2 (root and its parent)", inotifyWatches(t, w.fd))
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Same name again: a new cgroup with a new id.
	id := mustCreate(t, m, root+"/a")
	expect(t, events, Event{Added, root + "/a", id})
}

func TestWatcherLatency(t *testing.T) {
	m := requirePrivileged(t)
	root := testCgroup(t, m)
	w := newTestWatcher(t, m, root)
	events := runWatcher(t, w)
	expect(t, events, Event{Kind: Added, Path: root})

	const n = 50
	lat := make([]time.Duration, 0, n)
	for i := range n {
		p := fmt.Sprintf("%s/job-%d.scope", root, i)
		start := time.Now()
		id := mustCreate(t, m, p)
		expect(t, events, Event{Added, p, id})
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("mkdir to Added over %d cgroups: min %v, median %v, p90 %v, max %v",
		n, lat[0], lat[n/2], lat[n*9/10], lat[n-1])

	start := time.Now()
	for i := range n {
		if err := Remove(fmt.Sprintf("%s%s/job-%d.scope", m, root, i)); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if ev := next(t, events); ev.Kind != Removed {
			t.Fatalf("got %v, want Removed", ev)
		}
	}
	t.Logf("%d rmdirs reported within %v", n, time.Since(start))
}

func TestWatcherEmptied(t *testing.T) {
	m := requirePrivileged(t)
	root := testCgroup(t, m)
	w := newTestWatcher(t, m, root)
	events := runWatcher(t, w)
	expect(t, events, Event{Kind: Added, Path: root})

	job := root + "/job-1.scope"
	id := mustCreate(t, m, job)
	expect(t, events, Event{Added, job, id})

	if err := w.WatchEmpty(job); err != nil {
		t.Fatal(err)
	}
	if err := w.WatchEmpty("/"); err == nil {
		t.Error("WatchEmpty of the root cgroup: no error")
	}
	if err := w.WatchEmpty(root + "/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WatchEmpty of a missing cgroup: %v", err)
	}

	pid, stop := startSleep(t)
	if err := MovePID(m+job, pid); err != nil {
		t.Fatal(err)
	}
	// Becoming populated is not an event.
	expectQuiet(t, events, 200*time.Millisecond)

	start := time.Now()
	stop()
	expect(t, events, Event{Emptied, job, id})
	t.Logf("Emptied reported %v after kill", time.Since(start))
	expectQuiet(t, events, 200*time.Millisecond)

	// Again, with a second process: the registration persists.
	pid, stop = startSleep(t)
	if err := MovePID(m+job, pid); err != nil {
		t.Fatal(err)
	}
	stop()
	expect(t, events, Event{Emptied, job, id})
	// The move-in and the exit may reach the watcher as one coalesced
	// change or as two: a duplicate Emptied is allowed, nothing else.
	for quiet := false; !quiet; {
		select {
		case ev := <-events:
			if ev != (Event{Emptied, job, id}) {
				t.Fatalf("unexpected event %v", ev)
			}
		case <-time.After(200 * time.Millisecond):
			quiet = true
		}
	}

	// Removing the cgroup ends the registration and its watch.
	if err := Remove(m + job); err != nil {
		t.Fatal(err)
	}
	expect(t, events, Event{Removed, job, id})
	w.mu.Lock()
	left := len(w.empty) + len(w.emptyWD)
	w.mu.Unlock()
	if left != 0 {
		t.Errorf("WatchEmpty registrations left after removal: %d", left)
	}
	deadline := time.Now().Add(eventTimeout)
	for inotifyWatches(t, w.fd) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d inotify watches left, want 2", inotifyWatches(t, w.fd))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatcherRecheckEmpty covers the periodic safety net: an emptying that
// produced no inotify event is still reported by the rescan.
func TestWatcherRecheckEmpty(t *testing.T) {
	m := requirePrivileged(t)
	root := testCgroup(t, m)
	job := root + "/job"
	id := mustCreate(t, m, job)
	w := newTestWatcher(t, m, root)
	if _, err := w.syncChecked(root); err != nil {
		t.Fatal(err)
	}
	pid, stop := startSleep(t)
	if err := MovePID(m+job, pid); err != nil {
		t.Fatal(err)
	}
	if err := w.WatchEmpty(job); err != nil {
		t.Fatal(err)
	}
	if evs := w.recheckEmpty(); len(evs) != 0 {
		t.Fatalf("populated cgroup: %v", evs)
	}
	stop()
	waitPopulated(t, m+job, false)
	if evs := w.recheckEmpty(); !slices.Equal(evs, []Event{{Emptied, job, id}}) {
		t.Fatalf("recheckEmpty = %v", evs)
	}
	if evs := w.recheckEmpty(); len(evs) != 0 {
		t.Fatalf("reported twice: %v", evs)
	}

	// A registered cgroup that was never populated is not reported: the
	// caller registers job cgroups before moving their first process in.
	other := root + "/other"
	mustCreate(t, m, other)
	if err := w.WatchEmpty(other); err != nil {
		t.Fatal(err)
	}
	if evs := w.recheckEmpty(); len(evs) != 0 {
		t.Fatalf("never populated: %v", evs)
	}
	// A registration whose cgroup went away unseen is dropped.
	if err := Remove(m + other); err != nil {
		t.Fatal(err)
	}
	w.recheckEmpty()
	w.mu.Lock()
	_, ok := w.empty[other]
	w.mu.Unlock()
	if ok {
		t.Error("registration of a removed cgroup kept")
	}
}

// TestWatcherOverflowRescan feeds the watcher a synthetic IN_Q_OVERFLOW
// after changing the tree behind its back, then the real queued events,
// which must not produce duplicates.
func TestWatcherOverflowRescan(t *testing.T) {
	m := requirePrivileged(t)
	root := testCgroup(t, m)
	w := newTestWatcher(t, m, root)
	if _, err := w.syncChecked(root); err != nil {
		t.Fatal(err)
	}

	overflow := make([]byte, unix.SizeofInotifyEvent)
	binary.NativeEndian.PutUint32(overflow[0:], uint32(0xffffffff)) // wd -1
	binary.NativeEndian.PutUint32(overflow[4:], unix.IN_Q_OVERFLOW)

	xID := mustCreate(t, m, root+"/x")
	yID := mustCreate(t, m, root+"/y")
	zID := mustCreate(t, m, root+"/y/z")
	evs, err := w.handle(overflow)
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{{Added, root + "/x", xID}, {Added, root + "/y", yID}, {Added, root + "/y/z", zID}}
	if !slices.Equal(evs, want) {
		t.Fatalf("after overflow:\n got %v\nwant %v", evs, want)
	}

	if err := Remove(m + root + "/y/z"); err != nil {
		t.Fatal(err)
	}
	if err := Remove(m + root + "/y"); err != nil {
		t.Fatal(err)
	}
	evs, err = w.handle(overflow)
	if err != nil {
		t.Fatal(err)
	}
	want = []Event{{Removed, root + "/y/z", zID}, {Removed, root + "/y", yID}}
	if !slices.Equal(evs, want) {
		t.Fatalf("after overflow:\n got %v\nwant %v", evs, want)
	}

	// The events the kernel queued meanwhile change nothing.
	buf := make([]byte, 64*1024)
	for {
		n, err := unix.Read(w.fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		evs, err := w.handle(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 0 {
			t.Errorf("queued events after rescan produced %v", evs)
		}
	}
	got := make([]string, 0, len(w.index))
	for p := range w.index {
		got = append(got, p)
	}
	sort.Strings(got)
	if want := []string{root, root + "/x"}; !slices.Equal(got, want) {
		t.Errorf("index %q, want %q", got, want)
	}
}

func TestWatcherRootRemoved(t *testing.T) {
	m := requirePrivileged(t)
	root := testCgroup(t, m)
	sub := root + "/sub"
	subID := mustCreate(t, m, sub)
	tr, err := NewTree(m, sub)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan Event, 16)
	done := make(chan error, 1)
	go func() { done <- tr.Watch(ctx, events) }()
	expect(t, events, Event{Added, sub, subID})

	// A sibling of the root is outside the tree.
	mustCreate(t, m, root+"/sibling")
	if err := Remove(m + root + "/sibling"); err != nil {
		t.Fatal(err)
	}
	if err := Remove(m + sub); err != nil {
		t.Fatal(err)
	}
	expect(t, events, Event{Removed, sub, subID})
	select {
	case err := <-done:
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Run = %v, want an error wrapping fs.ErrNotExist", err)
		}
	case <-time.After(eventTimeout):
		t.Fatal("Run did not return after its root was removed")
	}
}

func TestWatcherClose(t *testing.T) {
	m := requirePrivileged(t)
	root := testCgroup(t, m)
	w := newTestWatcher(t, m, root)
	ctx := context.Background()
	events := make(chan Event, 16)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, events) }()
	expect(t, events, Event{Kind: Added, Path: root})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after Close = %v", err)
		}
	case <-time.After(eventTimeout):
		t.Fatal("Run did not return after Close")
	}
	if err := w.Run(ctx, events); err == nil {
		t.Error("second Run: no error")
	}
	if err := w.WatchEmpty(path.Join(root, "x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("WatchEmpty after Close: %v", err)
	}
}
