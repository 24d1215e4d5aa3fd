package daemon

import (
	"sort"
	"sync"
	"time"

	"github.com/sluicehq/sluice/pkg/bindstate"
	"github.com/sluicehq/sluice/pkg/identity"
)

// bindings holds the OIDC bindings of job cgroups: the verified token
// each job was started (or last refreshed) with, a timer that expires the
// binding with its token, and the sessions open under it. Every change is
// written to the bindings file of state_dir (save) before the caller acts
// on it, so a restarted daemon reads them back (bindings_restore.go).
type bindings struct {
	mu    sync.Mutex
	byJob map[string]*binding // by job cgroup path
	// lost says why a job's binding could not be restored at start, by
	// job; lostAll why none could be ("" when the file was read).
	lost    map[string]string
	lostAll string

	expire func(job string, o *identity.OIDC)
	gauge  func(n int)

	saveMu sync.Mutex // one write at a time, each of the latest state
	// save writes the bindings file; nil keeps them in memory only.
	// saveFailed reports a failed write (the binding holds until a
	// restart all the same).
	save       func([]bindstate.Binding) error
	saveFailed func(error)
}

// binding is one job's.
type binding struct {
	cgroupID uint64
	cur      *identity.OIDC
	expired  bool
	restored bool          // read back from the file at start
	sessions int           // connections relayed under it now
	done     chan struct{} // closed at expiry, unless the sessions may outlive the token
	timer    *time.Timer   // nil once expired
}

func newBindings(expire func(job string, o *identity.OIDC), gauge func(n int)) *bindings {
	return &bindings{byJob: map[string]*binding{}, lost: map[string]string{}, expire: expire, gauge: gauge}
}

// add binds job (cgroup id) to o and saves.
func (r *bindings) add(job string, id uint64, o *identity.OIDC) {
	r.mu.Lock()
	if old := r.byJob[job]; old != nil {
		old.stop()
	}
	b := &binding{cgroupID: id}
	r.byJob[job] = b
	delete(r.lost, job)
	r.arm(job, b, o)
	r.mu.Unlock()
	r.persist()
}

// restore puts back a binding read from the file at start; its timer is
// set by armRestored. One whose expiry was already reported stays
// expired.
func (r *bindings) restore(s bindstate.Binding, keep bool) {
	o := *s.OIDC
	o.Keep = keep
	r.mu.Lock()
	defer r.mu.Unlock()
	b := &binding{cgroupID: s.CgroupID, restored: true, cur: &o, expired: s.Expired, done: make(chan struct{})}
	if s.Expired {
		close(b.done)
	}
	r.byJob[s.Job] = b
	r.count()
}

// armRestored sets the expiry timers of the restored bindings: one whose
// token expired while the daemon was down expires at once.
func (r *bindings) armRestored() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for job, b := range r.byJob {
		if b.restored && !b.expired && b.timer == nil {
			r.arm(job, b, b.cur)
		}
	}
}

// arm makes o the binding's token and sets its expiry timer.
func (r *bindings) arm(job string, b *binding, o *identity.OIDC) {
	if b.done == nil || b.expired {
		b.done = make(chan struct{})
	}
	b.cur, b.expired = o, false
	b.timer = time.AfterFunc(time.Until(o.Expires), func() { r.fire(job, b, o) })
	r.count()
}

func (b *binding) stop() {
	if b.timer != nil {
		b.timer.Stop()
	}
}

// fire expires the binding, unless a newer token replaced o meanwhile.
func (r *bindings) fire(job string, b *binding, o *identity.OIDC) {
	r.mu.Lock()
	if b.cur != o || b.expired || r.byJob[job] != b {
		r.mu.Unlock()
		return
	}
	if d := time.Until(o.Expires); d > 0 {
		// Timers run on the monotonic clock; the wall clock, which exp
		// is in, says it is not time yet (it was set back).
		b.timer = time.AfterFunc(d, func() { r.fire(job, b, o) })
		r.mu.Unlock()
		return
	}
	b.expired = true
	if !o.Keep {
		close(b.done)
	}
	r.count()
	r.mu.Unlock()
	r.expire(job, o)
	r.persist()
}

// refresh replaces job's token with a newer one and saves; it returns
// the previous token, or nil when the job has no binding.
func (r *bindings) refresh(job string, o *identity.OIDC) *identity.OIDC {
	r.mu.Lock()
	b := r.byJob[job]
	if b == nil {
		r.mu.Unlock()
		return nil
	}
	prev := b.cur
	b.stop()
	r.arm(job, b, o)
	r.mu.Unlock()
	r.persist()
	return prev
}

// get returns job's token, whether it expired, and the channel closed
// when its sessions must end (nil when they may outlive it).
func (r *bindings) get(job string) (o *identity.OIDC, expired bool, done <-chan struct{}, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.byJob[job]
	if b == nil {
		return nil, false, nil, false
	}
	return b.cur, r.lapsed(job, b), b.doneChan(), true
}

// lapsed reports whether b's token has expired, by the wall clock too: the
// expiry timer runs on the monotonic clock, which stands still while the
// host is suspended or the VM paused, and a token is never honoured past
// its exp. A token found expired before its timer fired is expired now.
// The caller holds r.mu.
func (r *bindings) lapsed(job string, b *binding) bool {
	if b.expired {
		return true
	}
	if time.Now().Before(b.cur.Expires) {
		return false
	}
	o := b.cur
	go r.fire(job, b, o)
	return true
}

func (b *binding) doneChan() <-chan struct{} {
	if b.cur.Keep {
		return nil
	}
	return b.done
}

// hold is get for a connection: when the binding is in force, it counts
// a session open under it until release is called (once).
func (r *bindings) hold(job string) (o *identity.OIDC, expired bool, done <-chan struct{}, release func(), ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.byJob[job]
	if b == nil {
		return nil, false, nil, nil, false
	}
	if r.lapsed(job, b) {
		return b.cur, true, nil, nil, true
	}
	b.sessions++
	var once sync.Once
	release = func() {
		once.Do(func() {
			r.mu.Lock()
			b.sessions--
			r.mu.Unlock()
		})
	}
	return b.cur, false, b.doneChan(), release, true
}

// remove forgets job (its cgroup is gone) and saves.
func (r *bindings) remove(job string) {
	r.mu.Lock()
	_, had := r.lost[job]
	delete(r.lost, job)
	b := r.byJob[job]
	if b != nil {
		b.stop()
		delete(r.byJob, job)
		r.count()
	}
	r.mu.Unlock()
	if b != nil || had {
		r.persist()
	}
}

// markLost records why job's binding could not be restored; all says
// no binding could be (the file was unusable).
func (r *bindings) markLost(job, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if job == "" {
		r.lostAll = why
		return
	}
	r.lost[job] = why
}

// lostReason says why job has no binding after a restart, or "".
func (r *bindings) lostReason(job string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if why, ok := r.lost[job]; ok {
		return why
	}
	return r.lostAll
}

// bindingState is a binding as status reports it.
type bindingState struct {
	job      string
	cgroupID uint64
	oidc     *identity.OIDC
	expired  bool
	restored bool
	sessions int
}

// list returns the bindings, ordered by job.
func (r *bindings) list() []bindingState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]bindingState, 0, len(r.byJob))
	for job, b := range r.byJob {
		out = append(out, bindingState{job: job, cgroupID: b.cgroupID, oidc: b.cur, expired: b.expired,
			restored: b.restored, sessions: b.sessions})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].job < out[j].job })
	return out
}

// saveTo makes every later change be written with save; saveFailed
// reports a write that failed.
func (r *bindings) saveTo(save func([]bindstate.Binding) error, saveFailed func(error)) {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	r.save, r.saveFailed = save, saveFailed
}

// persist writes the bindings file with the bindings now held. Writes are
// serialized and each takes the state when it starts, so the last write
// holds the latest state.
func (r *bindings) persist() {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	if r.save == nil {
		return
	}
	r.mu.Lock()
	saved := make([]bindstate.Binding, 0, len(r.byJob))
	for job, b := range r.byJob {
		saved = append(saved, bindstate.Binding{Job: job, CgroupID: b.cgroupID, OIDC: b.cur, Expired: b.expired})
	}
	r.mu.Unlock()
	if err := r.save(saved); err != nil && r.saveFailed != nil {
		r.saveFailed(err)
	}
}

// count reports the bindings in force.
func (r *bindings) count() {
	n := 0
	for _, b := range r.byJob {
		if !b.expired {
			n++
		}
	}
	if r.gauge != nil {
		r.gauge(n)
	}
}
