package cgroup

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// EventKind says what happened to a cgroup.
type EventKind int

const (
	// Added: a cgroup appeared (or existed when Run started).
	Added EventKind = iota + 1
	// Removed: a cgroup disappeared. Event.ID is the id it had.
	Removed
	// Emptied: a cgroup registered with Watcher.WatchEmpty lost its last
	// process.
	Emptied
)

func (k EventKind) String() string {
	switch k {
	case Added:
		return "Added"
	case Removed:
		return "Removed"
	case Emptied:
		return "Emptied"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one change in a watched subtree.
type Event struct {
	Kind EventKind
	Path string // cgroup path, relative to the mount
	ID   uint64 // cgroup id; for Removed the id from the watcher's index
}

func (e Event) String() string {
	return fmt.Sprintf("%s %s (id %d)", e.Kind, e.Path, e.ID)
}

// DefaultRescanInterval is the RescanInterval NewWatcher sets.
const DefaultRescanInterval = 30 * time.Second

const (
	dirMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM |
		unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_ONLYDIR
	eventsMask = unix.IN_MODIFY
)

// Watcher reports cgroups appearing in and disappearing from a Tree, and
// cgroups becoming empty, using inotify on cgroupfs.
//
// Contract:
//
//   - Run first reports every cgroup that exists at and under Tree.Root as
//     Added (parents before children), then reports changes as they happen.
//     A given cgroup (path and id) is reported Added once and Removed once;
//     a path that is removed and recreated is reported Removed with the old
//     id and Added with the new one.
//   - Within a subtree, Added comes for parents before children and Removed
//     for children before parents. A subtree created faster than watches can
//     be placed ("mkdir -p a/b/c") is still reported in full, because each
//     new directory is walked as soon as it is seen.
//   - Lost events (inotify queue overflow) and anything else inotify might
//     miss are repaired by a full rescan that reports the differences; one
//     also runs every RescanInterval.
//   - Emptied is only reported for cgroups registered with WatchEmpty. It is
//     a hint: it may come more than once, and the cgroup may have been
//     repopulated by the time it is read, so check Populated (or rely on
//     Remove failing with EBUSY) before acting on it.
//
// Run may be called once. WatchEmpty and Close are safe to call from any
// goroutine, before or during Run.
type Watcher struct {
	// RescanInterval is how often Run re-walks the whole subtree as a safety
	// net. NewWatcher sets it to DefaultRescanInterval; zero or negative
	// disables periodic rescans. Set it before calling Run.
	RescanInterval time.Duration

	tree Tree
	file *os.File // owns the inotify fd
	fd   int

	// Owned by the Run goroutine.
	index    map[string]node // cgroup path -> id and directory watch
	byWD     map[int]string  // directory watch -> cgroup path
	parentWD int             // watch on Root's parent, to see Root removed; -1 if none

	mu      sync.Mutex
	closed  bool
	started bool
	empty   map[string]*emptyWatch // cgroup path -> cgroup.events watch
	emptyWD map[int]string         // cgroup.events watch -> cgroup path
}

type node struct {
	id uint64
	wd int
}

type emptyWatch struct {
	id        uint64
	wd        int
	populated bool // last populated value seen
	reported  bool // Emptied reported and not repopulated since
}

// NewWatcher returns a Watcher for the subtree t. It allocates an inotify
// instance, which Run releases when it returns; call Close if Run is never
// called.
func (t *Tree) NewWatcher() (*Watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("cgroup: inotify_init1: %w", err)
	}
	return &Watcher{
		RescanInterval: DefaultRescanInterval,
		tree:           Tree{Mount: filepath.Clean(t.Mount), Root: clean(t.Root)},
		file:           os.NewFile(uintptr(fd), "inotify"),
		fd:             fd,
		index:          make(map[string]node),
		byWD:           make(map[int]string),
		parentWD:       -1,
		empty:          make(map[string]*emptyWatch),
		emptyWD:        make(map[int]string),
	}, nil
}

// Watch is NewWatcher followed by Run, for callers that do not need
// WatchEmpty.
func (t *Tree) Watch(ctx context.Context, events chan<- Event) error {
	w, err := t.NewWatcher()
	if err != nil {
		return err
	}
	return w.Run(ctx, events)
}

// Close releases the inotify instance. It is idempotent; a Run in progress
// returns nil.
func (w *Watcher) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	return w.file.Close()
}

func (w *Watcher) isClosed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

// WatchEmpty asks for an Emptied event when the cgroup at the cgroup path p
// (relative to the mount, at or under Tree.Root, not "/") loses its last
// process. It does not
// report the current state: register a job cgroup before moving its first
// process in, or check Populated after WatchEmpty returns. Emptied may be
// reported more than once for one emptying, and the cgroup may have been
// filled again by the time it is read: treat it as a hint to check. The
// registration ends when the cgroup is removed.
func (w *Watcher) WatchEmpty(p string) error {
	p = clean(p)
	if !within(p, w.tree.Root) || p == "/" {
		return fmt.Errorf("cgroup: watch empty %s: not a non-root cgroup under %s", p, w.tree.Root)
	}
	dir := w.tree.Dir(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("cgroup: watch empty %s: %w", p, os.ErrClosed)
	}
	wd, err := unix.InotifyAddWatch(w.fd, filepath.Join(dir, "cgroup.events"), eventsMask)
	if err != nil {
		return fmt.Errorf("cgroup: watch empty %s: %w", p, err)
	}
	id, err := ID(dir)
	if err == nil {
		var pop bool
		if pop, err = Populated(dir); err == nil {
			if old := w.empty[p]; old != nil && old.wd != wd {
				w.dropEmptyLocked(p)
			}
			w.empty[p] = &emptyWatch{id: id, wd: wd, populated: pop}
			w.emptyWD[wd] = p
			return nil
		}
	}
	if _, ok := w.emptyWD[wd]; !ok {
		w.rmWatchLocked(wd)
	}
	return fmt.Errorf("cgroup: watch empty %s: %w", p, err)
}

// Run watches until ctx is done or Close is called, then releases the
// inotify instance and returns nil. It sends events to events, blocking
// while the receiver is slow (the kernel queues in the meantime, and an
// overflow is repaired by a rescan). It never closes events. It returns an
// error if watching cannot continue: inotify failing (for instance
// ENOSPC when fs.inotify.max_user_watches is exhausted) or Tree.Root being
// removed (wrapping fs.ErrNotExist), after reporting its removal.
func (w *Watcher) Run(ctx context.Context, events chan<- Event) error {
	w.mu.Lock()
	if w.started {
		w.mu.Unlock()
		return errors.New("cgroup: Watcher.Run called twice")
	}
	w.started = true
	w.mu.Unlock()

	type batch struct {
		buf []byte
		err error
	}
	raw := make(chan batch)
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(done)
		w.Close()
		wg.Wait()
	}()

	if w.tree.Root != "/" {
		// A removed directory gets no event of its own on cgroupfs, so
		// the removal of Root is only seen from its parent.
		wd, err := w.addWatch(w.tree.Dir(path.Dir(w.tree.Root)), unix.IN_DELETE|unix.IN_ONLYDIR)
		if err != nil {
			return fmt.Errorf("cgroup: watch parent of %s: %w", w.tree.Root, err)
		}
		w.parentWD = wd
	}
	evs, err := w.syncChecked(w.tree.Root)
	if serr := send(ctx, events, evs); serr != nil || err != nil {
		return err
	}

	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64*1024)
		for {
			n, err := w.file.Read(buf)
			b := batch{err: err}
			if err == nil {
				b.buf = slices.Clone(buf[:n])
			}
			select {
			case raw <- b:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	var tick <-chan time.Time
	if w.RescanInterval > 0 {
		t := time.NewTicker(w.RescanInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		var evs []Event
		var err error
		select {
		case <-ctx.Done():
			return nil
		case b := <-raw:
			if b.err != nil {
				if w.isClosed() {
					return nil
				}
				return fmt.Errorf("cgroup: read inotify: %w", b.err)
			}
			evs, err = w.handle(b.buf)
		case <-tick:
			evs, err = w.rescan()
		}
		if serr := send(ctx, events, evs); serr != nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func send(ctx context.Context, ch chan<- Event, evs []Event) error {
	for _, ev := range evs {
		select {
		case ch <- ev:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// handle processes a buffer of inotify events read from the instance and
// returns the resulting events.
func (w *Watcher) handle(buf []byte) ([]Event, error) {
	var out []Event
	for len(buf) >= unix.SizeofInotifyEvent {
		wd := int(int32(binary.NativeEndian.Uint32(buf[0:])))
		mask := binary.NativeEndian.Uint32(buf[4:])
		nameLen := int(binary.NativeEndian.Uint32(buf[12:]))
		end := unix.SizeofInotifyEvent + nameLen
		if end > len(buf) {
			return out, fmt.Errorf("cgroup: short inotify event (%d of %d bytes)", len(buf), end)
		}
		name := strings.TrimRight(string(buf[unix.SizeofInotifyEvent:end]), "\x00")
		buf = buf[end:]

		var evs []Event
		var err error
		if mask&unix.IN_Q_OVERFLOW != 0 {
			evs, err = w.rescan()
		} else if wd == w.parentWD {
			if mask&unix.IN_ISDIR != 0 && name == path.Base(w.tree.Root) {
				evs, err = w.syncChecked(w.tree.Root)
			}
		} else if p, ok := w.byWD[wd]; ok {
			evs, err = w.dirEvent(wd, p, mask, name)
		} else {
			evs = w.eventsFileEvent(wd, mask)
		}
		out = append(out, evs...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// dirEvent handles an event on the directory watch wd of cgroup path p.
func (w *Watcher) dirEvent(wd int, p string, mask uint32, name string) ([]Event, error) {
	switch {
	case name != "":
		// IN_CREATE, IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO of an entry:
		// only directories are cgroups. Whatever happened, make the index
		// agree with what is there now.
		if mask&unix.IN_ISDIR == 0 {
			return nil, nil
		}
		return w.syncChecked(path.Join(p, name))
	case mask&(unix.IN_DELETE_SELF|unix.IN_IGNORED) != 0:
		if mask&unix.IN_IGNORED != 0 && w.byWD[wd] == p {
			delete(w.byWD, wd)
		}
		return w.syncChecked(p)
	}
	return nil, nil
}

// syncChecked is sync followed by checkRoot.
func (w *Watcher) syncChecked(sub string) ([]Event, error) {
	evs, err := w.sync(sub)
	if err == nil {
		err = w.checkRoot()
	}
	return evs, err
}

func (w *Watcher) checkRoot() error {
	if _, ok := w.index[w.tree.Root]; !ok {
		return fmt.Errorf("cgroup: watched root %s removed: %w", w.tree.Root, fs.ErrNotExist)
	}
	return nil
}

// rescan re-walks the whole tree and rechecks the cgroups registered with
// WatchEmpty.
func (w *Watcher) rescan() ([]Event, error) {
	evs, err := w.syncChecked(w.tree.Root)
	return append(evs, w.recheckEmpty()...), err
}

// sync walks the subtree at the cgroup path sub, watching every directory
// in it, and brings the index for that subtree in line with what it found.
// It returns the differences as Removed (children first) then Added
// (parents first) events.
func (w *Watcher) sync(sub string) ([]Event, error) {
	cur := make(map[string]node)
	err := w.scan(sub, cur)

	old := make(map[string]uint64)
	for p, n := range w.index {
		if within(p, sub) {
			old[p] = n.id
		}
	}
	now := make(map[string]uint64, len(cur))
	for p, n := range cur {
		now[p] = n.id
	}
	evs := diff(old, now)
	if err != nil {
		// Incomplete walk: report and index what was found, but do not
		// conclude that anything it did not reach is gone.
		evs = slices.DeleteFunc(evs, func(e Event) bool {
			_, replaced := now[e.Path]
			return e.Kind == Removed && !replaced
		})
	}
	for _, ev := range evs {
		if ev.Kind != Removed {
			continue
		}
		n := w.index[ev.Path]
		delete(w.index, ev.Path)
		if w.byWD[n.wd] == ev.Path {
			delete(w.byWD, n.wd)
		}
		if _, ok := cur[ev.Path]; !ok || cur[ev.Path].wd != n.wd {
			// rmdir on cgroupfs sends IN_DELETE to the parent but neither
			// IN_DELETE_SELF nor IN_IGNORED to the removed directory: its
			// watch stays until removed explicitly.
			w.rmWatch(n.wd)
		}
		w.dropEmpty(ev.Path, ev.ID)
	}
	for p, n := range cur {
		if prev, ok := w.index[p]; ok && prev.wd != n.wd && w.byWD[prev.wd] == p {
			delete(w.byWD, prev.wd)
		}
		w.index[p] = n
		w.byWD[n.wd] = p
	}
	return evs, err
}

// scan adds a directory watch on the cgroup at p and then lists it (in that
// order, so a child created in between is seen one way or the other),
// recursing into child cgroups, and records what it finds in cur.
func (w *Watcher) scan(p string, cur map[string]node) error {
	dir := w.tree.Dir(p)
	wd, err := w.addWatch(dir, dirMask)
	if err != nil {
		if gone(err) {
			return nil
		}
		return fmt.Errorf("cgroup: watch %s: %w", dir, err)
	}
	id, err := ID(dir)
	if err != nil {
		if _, known := w.byWD[wd]; !known {
			w.rmWatch(wd)
		}
		if gone(err) {
			return nil
		}
		return err
	}
	cur[p] = node{id: id, wd: wd}
	ents, err := os.ReadDir(dir)
	if err != nil {
		if gone(err) {
			return nil
		}
		return fmt.Errorf("cgroup: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := w.scan(path.Join(p, e.Name()), cur); err != nil {
				return err
			}
		}
	}
	return nil
}

// rmWatch removes an inotify watch, ignoring errors (it may be gone).
func (w *Watcher) rmWatch(wd int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rmWatchLocked(wd)
}

func (w *Watcher) rmWatchLocked(wd int) {
	if !w.closed {
		_, _ = unix.InotifyRmWatch(w.fd, uint32(wd))
	}
}

func (w *Watcher) addWatch(dir string, mask uint32) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, os.ErrClosed
	}
	return unix.InotifyAddWatch(w.fd, dir, mask)
}

// diff compares two snapshots (cgroup path -> id) and returns Removed events
// for cgroups in old that are gone or have a new id, children before
// parents, followed by Added events for cgroups in now that are new or have
// a new id, parents before children.
func diff(old, now map[string]uint64) []Event {
	var removed, added []Event
	for p, id := range old {
		if nid, ok := now[p]; !ok || nid != id {
			removed = append(removed, Event{Kind: Removed, Path: p, ID: id})
		}
	}
	for p, id := range now {
		if oid, ok := old[p]; !ok || oid != id {
			added = append(added, Event{Kind: Added, Path: p, ID: id})
		}
	}
	// A parent's path is a prefix of its children's, so it sorts first.
	sort.Slice(removed, func(i, j int) bool { return removed[i].Path > removed[j].Path })
	sort.Slice(added, func(i, j int) bool { return added[i].Path < added[j].Path })
	return append(removed, added...)
}

// eventsFileEvent handles an event on a cgroup.events watch.
func (w *Watcher) eventsFileEvent(wd int, mask uint32) []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.emptyWD[wd]
	if !ok {
		return nil
	}
	ew := w.empty[p]
	if mask&unix.IN_IGNORED != 0 {
		delete(w.emptyWD, wd)
		if ew != nil && ew.wd == wd {
			delete(w.empty, p)
		}
		return nil
	}
	if mask&unix.IN_MODIFY == 0 || ew == nil {
		return nil
	}
	pop, err := Populated(w.tree.Dir(p))
	if err != nil {
		return nil // removed meanwhile; the directory watch reports that
	}
	if pop {
		ew.populated, ew.reported = true, false
		return nil
	}
	// The file changed and reads unpopulated. The kernel coalesces these
	// notifications, so the populated 1 in between may never be seen: a
	// change while already reported empty means it was filled and emptied
	// again, so it is reported again (at worst a duplicate, which callers
	// must tolerate anyway).
	ew.populated = false
	ew.reported = true
	return []Event{{Kind: Emptied, Path: p, ID: ew.id}}
}

// recheckEmpty rereads every cgroup registered with WatchEmpty, reporting
// those seen populated before and empty now, and dropping registrations of
// cgroups that no longer exist.
func (w *Watcher) recheckEmpty() []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Event
	for p, ew := range w.empty {
		dir := w.tree.Dir(p)
		id, err := ID(dir)
		if err != nil || id != ew.id {
			w.dropEmptyLocked(p)
			continue
		}
		pop, err := Populated(dir)
		if err != nil {
			continue
		}
		if pop {
			ew.populated, ew.reported = true, false
			continue
		}
		if ew.populated && !ew.reported {
			out = append(out, Event{Kind: Emptied, Path: p, ID: ew.id})
			ew.reported = true
		}
		ew.populated = false
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// dropEmpty ends the WatchEmpty registration of the cgroup p if it is for
// the cgroup with the given id (and not for a newer cgroup at that path).
func (w *Watcher) dropEmpty(p string, id uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ew := w.empty[p]; ew != nil && ew.id == id {
		w.dropEmptyLocked(p)
	}
}

func (w *Watcher) dropEmptyLocked(p string) {
	ew := w.empty[p]
	if ew == nil {
		return
	}
	delete(w.empty, p)
	delete(w.emptyWD, ew.wd)
	// A cgroup's files are removed inside the kernel, not through the VFS,
	// so their watches are not dropped automatically.
	w.rmWatchLocked(ew.wd)
}
