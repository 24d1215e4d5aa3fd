package daemon

import (
	"sync"
	"time"

	"github.com/sluicehq/sluice/pkg/identity"
)

// bindings holds the OIDC bindings of job cgroups: the verified token
// each job was started (or last refreshed) with, and a timer that expires
// the binding with its token. They live in memory: after a restart, jobs
// bound to a token have none, and their new connections are refused.
type bindings struct {
	mu     sync.Mutex
	byJob  map[string]*binding // by job cgroup path
	expire func(job string, o *identity.OIDC)
	gauge  func(n int)
}

// binding is one job's.
type binding struct {
	cur     *identity.OIDC
	expired bool
	done    chan struct{} // closed at expiry, unless the sessions may outlive the token
	timer   *time.Timer
}

func newBindings(expire func(job string, o *identity.OIDC), gauge func(n int)) *bindings {
	return &bindings{byJob: map[string]*binding{}, expire: expire, gauge: gauge}
}

// add binds job to o.
func (r *bindings) add(job string, o *identity.OIDC) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.byJob[job]; old != nil {
		old.timer.Stop()
	}
	b := &binding{}
	r.byJob[job] = b
	r.arm(job, b, o)
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

// fire expires the binding, unless a newer token replaced o meanwhile.
func (r *bindings) fire(job string, b *binding, o *identity.OIDC) {
	r.mu.Lock()
	if b.cur != o || b.expired || r.byJob[job] != b {
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
}

// refresh replaces job's token with a newer one; it returns the previous
// token, or nil when the job has no binding.
func (r *bindings) refresh(job string, o *identity.OIDC) *identity.OIDC {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.byJob[job]
	if b == nil {
		return nil
	}
	prev := b.cur
	b.timer.Stop()
	r.arm(job, b, o)
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
	if !b.cur.Keep {
		done = b.done
	}
	return b.cur, b.expired, done, true
}

// remove forgets job (its cgroup is gone).
func (r *bindings) remove(job string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b := r.byJob[job]; b != nil {
		b.timer.Stop()
		delete(r.byJob, job)
		r.count()
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
