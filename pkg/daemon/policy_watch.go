package daemon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The policy directory is watched with inotify: a change to any entry
// (written, created, removed, renamed, its mode changed) reloads the
// policies once the changes have settled, so that an editor's
// write-rename burst, or a tool replacing several files, reloads once.
// The reload reads and checks the whole directory: an invalid set leaves
// the one in force (policy.reload_failed); a valid set with a new version
// is put in force (policy.reloaded), and open sessions use it from their
// next statement. A directory that does not exist (yet) is looked for
// again every second; one that is removed or renamed away is reloaded
// (no directory means no policies) and looked for again.

// Defaults of the policy watcher.
const (
	// policyDebounce is how long the directory must stay quiet before a
	// reload.
	policyDebounce = 200 * time.Millisecond
	// policyMaxDelay bounds the wait for quiet: a directory that keeps
	// changing is reloaded at least this often.
	policyMaxDelay = 2 * time.Second
	// policyRetry is how often a missing directory is looked for.
	policyRetry = time.Second
)

// policyWatchMask is every change of a directory entry, and the
// directory itself going away.
const policyWatchMask = unix.IN_CLOSE_WRITE | unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CREATE |
	unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_ONLYDIR

// gone are the events after which a watch no longer follows the path.
const gone = unix.IN_IGNORED | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_UNMOUNT

// watchTimes are the watcher's delays.
type watchTimes struct {
	debounce, maxDelay, retry time.Duration
}

// watchPolicies reloads the policies when their directory changes, until
// ctx ends. Should inotify fail, the failure is a daemon.error event and
// sluiced runs on: SIGHUP and sluice reload still reload.
func (d *Daemon) watchPolicies(ctx context.Context) error {
	d.mu.Lock()
	dir := d.cfg.PoliciesDir
	d.mu.Unlock()
	err := watchDir(ctx, dir, d.policies.dirChan(), watchTimes{policyDebounce, policyMaxDelay, policyRetry}, d.reloadPoliciesOnChange)
	if err != nil {
		d.log.Error(err, "watch policy directory")
	}
	return nil
}

// reloadPoliciesOnChange reloads the policies of the configuration in
// force; the events tell how it went.
func (d *Daemon) reloadPoliciesOnChange() {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	_, _ = d.reloadPolicies(cfg)
}

// watchDir calls changed once the directory dir has changed and stayed
// quiet for t.debounce (or after t.maxDelay of continuous changes), and
// each time the directory starts being watched (it may have changed
// while it was not). A new directory sent on dirs replaces dir. It
// returns when ctx ends, or with an error when inotify fails.
func watchDir(ctx context.Context, dir string, dirs <-chan string, t watchTimes, changed func()) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("policy watcher: inotify_init1: %w", err)
	}
	file := os.NewFile(uintptr(fd), "inotify") // non-blocking: reads wait in the poller
	stop := context.AfterFunc(ctx, func() { file.Close() })
	defer stop()
	defer file.Close()

	type batch struct {
		wds   []int32
		masks []uint32
	}
	events := make(chan batch, 16)
	readErr := make(chan error, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		for {
			n, err := file.Read(buf)
			if err != nil {
				readErr <- err
				return
			}
			var b batch
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				wd := int32(binary.NativeEndian.Uint32(buf[off:]))
				mask := binary.NativeEndian.Uint32(buf[off+4:])
				nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
				b.wds, b.masks = append(b.wds, wd), append(b.masks, mask)
				off += unix.SizeofInotifyEvent + nameLen
			}
			select {
			case events <- b:
			case <-done:
				return
			}
		}
	}()

	wd := -1
	arm := func() bool {
		w, err := unix.InotifyAddWatch(fd, dir, policyWatchMask)
		if err != nil {
			return false
		}
		wd = w
		return true
	}
	disarm := func() {
		if wd >= 0 {
			_, _ = unix.InotifyRmWatch(fd, uint32(wd))
			wd = -1
		}
	}

	// The reload timer: started at the first change, pushed back by each
	// later one, never beyond maxDelay after the first.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var first time.Time
	pending := false
	schedule := func() {
		now := time.Now()
		if !pending {
			pending, first = true, now
		}
		timer.Reset(min(t.debounce, first.Add(t.maxDelay).Sub(now)))
	}
	retry := time.NewTicker(t.retry)
	defer retry.Stop()

	if arm() {
		schedule()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("policy watcher: read: %w", err)
		case next := <-dirs:
			if next != dir {
				disarm()
				dir = next
				if arm() {
					schedule()
				}
			}
		case <-retry.C:
			if wd < 0 && arm() {
				schedule() // the directory appeared
			}
		case b := <-events:
			for i, mask := range b.masks {
				switch {
				case mask&unix.IN_Q_OVERFLOW != 0:
					schedule() // events were lost: reload to be sure
				case int(b.wds[i]) != wd:
					// A watch removed since.
				case mask&gone != 0:
					// The directory went away: reload (no directory,
					// no policies) and look for it again.
					disarm()
					schedule()
				default:
					schedule()
				}
			}
		case <-timer.C:
			pending = false
			changed()
		}
	}
}
