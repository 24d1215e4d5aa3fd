package daemon

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/bindstate"
	"github.com/sluicehq/sluice/pkg/identity"
)

// TestBindings: a binding expires with its token, ending its sessions
// unless it keeps them; a refresh before expiry keeps the sessions, one
// after revives the binding; removal stops the timer.
func TestBindings(t *testing.T) {
	var mu sync.Mutex
	expired := map[string]int{}
	fired := make(chan string, 8)
	r := newBindings(func(job string, o *identity.OIDC) {
		mu.Lock()
		expired[job]++
		mu.Unlock()
		fired <- job
	}, nil)
	wait := func(job string) {
		t.Helper()
		select {
		case j := <-fired:
			if j != job {
				t.Fatalf("%s expired, want %s", j, job)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not expire", job)
		}
	}
	soon := func(keep bool) *identity.OIDC {
		return &identity.OIDC{Identity: "gha:a@b", Subject: "s", Expires: time.Now().Add(50 * time.Millisecond), Keep: keep}
	}
	later := &identity.OIDC{Identity: "gha:a@b", Subject: "s", Expires: time.Now().Add(time.Hour)}

	r.add("/jobs/a", 1, soon(false))
	_, _, done, ok := r.get("/jobs/a")
	if !ok || done == nil {
		t.Fatal("no binding")
	}
	wait("/jobs/a")
	if _, exp, _, _ := r.get("/jobs/a"); !exp {
		t.Fatal("not expired")
	}
	select {
	case <-done:
	default:
		t.Fatal("sessions not ended at expiry")
	}
	// A refresh after expiry revives it, with a new channel.
	if prev := r.refresh("/jobs/a", later); prev == nil {
		t.Fatal("refresh of a known job failed")
	}
	o, exp, done2, _ := r.get("/jobs/a")
	if exp || o != later || done2 == done {
		t.Fatalf("after refresh: %v %v", o, exp)
	}

	// Keep: the binding expires, the sessions' channel stays open (nil).
	r.add("/jobs/b", 2, soon(true))
	if _, _, d, _ := r.get("/jobs/b"); d != nil {
		t.Fatal("a keep binding ends sessions")
	}
	wait("/jobs/b")

	// A refresh before expiry: the old token's timer does nothing.
	old := soon(false)
	r.add("/jobs/c", 3, old)
	b := r.byJob["/jobs/c"]
	r.refresh("/jobs/c", later)
	r.fire("/jobs/c", b, old)
	r.remove("/jobs/a")
	r.remove("/jobs/b")
	if _, _, _, ok := r.get("/jobs/a"); ok {
		t.Fatal("removed binding still there")
	}
	if r.refresh("/jobs/zzz", later) != nil {
		t.Fatal("refresh of an unknown job")
	}
	mu.Lock()
	defer mu.Unlock()
	if expired["/jobs/c"] != 0 {
		t.Fatal("a refreshed token expired")
	}
}

// TestBindingsSaved: every change is in the bindings file before the
// call returns (add, refresh, expiry, removal), and a hold counts the
// sessions open under a binding until it is released, once.
func TestBindingsSaved(t *testing.T) {
	p := bindstate.Path(t.TempDir())
	fired := make(chan string, 4)
	r := newBindings(func(job string, o *identity.OIDC) { fired <- job }, nil)
	r.saveTo(func(bs []bindstate.Binding) error { return bindstate.Save(p, bs) }, func(err error) { t.Error(err) })
	saved := func() map[string]bindstate.Binding {
		t.Helper()
		bs, problems, err := bindstate.Load(p)
		if err != nil || len(problems) != 0 {
			t.Fatalf("bindings file: %v %v", problems, err)
		}
		m := map[string]bindstate.Binding{}
		for _, b := range bs {
			m[b.Job] = b
		}
		return m
	}
	tok := func(jti string, ttl time.Duration) *identity.OIDC {
		return &identity.OIDC{Issuer: "https://issuer.example.com", Subject: "repo:acme/app", Identity: "gha:acme/app@main",
			JTI: jti, Expires: time.Now().Add(ttl).Truncate(time.Second), Claims: map[string]any{"ref": "main"}}
	}
	r.add("/jobs/job-a", 11, tok("1", time.Hour))
	r.add("/jobs/job-b", 12, tok("2", time.Hour))
	if m := saved(); len(m) != 2 || m["/jobs/job-a"].CgroupID != 11 || m["/jobs/job-a"].OIDC.JTI != "1" || m["/jobs/job-a"].OIDC.Claims["ref"] != "main" {
		t.Fatalf("after add: %+v", m)
	}
	newer := tok("3", 2*time.Hour)
	r.refresh("/jobs/job-a", newer)
	if b := saved()["/jobs/job-a"]; b.OIDC.JTI != "3" || !b.OIDC.Expires.Equal(newer.Expires) {
		t.Fatalf("after refresh: %+v", b.OIDC)
	}

	// Sessions open under a binding.
	_, _, _, rel1, ok := r.hold("/jobs/job-a")
	_, _, _, rel2, _ := r.hold("/jobs/job-a")
	if !ok || r.list()[0].sessions != 2 {
		t.Fatalf("two holds: %+v", r.list())
	}
	rel1()
	rel1()
	if r.list()[0].sessions != 1 {
		t.Fatalf("a release counted twice: %+v", r.list()[0])
	}
	rel2()

	// Expiry is saved, and an expired binding gives no hold.
	r.add("/jobs/job-c", 13, tok("4", 20*time.Millisecond))
	select {
	case <-fired:
	case <-time.After(10 * time.Second):
		t.Fatal("job-c did not expire")
	}
	waitSaved := time.Now().Add(10 * time.Second)
	for !saved()["/jobs/job-c"].Expired {
		if time.Now().After(waitSaved) {
			t.Fatal("the expiry was not saved")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, expired, _, release, ok := r.hold("/jobs/job-c"); !ok || !expired || release != nil {
		t.Fatalf("hold of an expired binding: expired %v release %v", expired, release != nil)
	}
	r.remove("/jobs/job-b")
	if m := saved(); len(m) != 2 || m["/jobs/job-b"].OIDC != nil {
		t.Fatalf("after remove: %+v", m)
	}
}

// TestBindingsSaveFails: a binding whose file cannot be written holds all
// the same, and the failure is reported.
func TestBindingsSaveFails(t *testing.T) {
	var mu sync.Mutex
	var failures []error
	r := newBindings(func(string, *identity.OIDC) {}, nil)
	r.saveTo(func([]bindstate.Binding) error { return errors.New("disk full") }, func(err error) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
	})
	r.add("/jobs/job-a", 1, &identity.OIDC{Identity: "i", Subject: "s", Expires: time.Now().Add(time.Hour)})
	if _, _, _, ok := r.get("/jobs/job-a"); !ok {
		t.Fatal("the binding is gone")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failures) != 1 {
		t.Fatalf("failures reported: %v", failures)
	}
}

// TestBindingsWallClock: the expiry timer runs on the monotonic clock,
// which stands still while the host sleeps; a token whose exp has passed
// by the wall clock is expired when next looked at, timer or not.
func TestBindingsWallClock(t *testing.T) {
	fired := make(chan string, 1)
	r := newBindings(func(job string, _ *identity.OIDC) { fired <- job }, nil)
	o := &identity.OIDC{Identity: "gha:a@b", Subject: "s", Expires: time.Now().Add(time.Hour)}
	r.add("/jobs/a", 1, o)
	r.mu.Lock()
	o.Expires = time.Now().Add(-time.Minute) // the wall clock went past exp while the timer waits
	r.mu.Unlock()
	if _, expired, _, release, ok := r.hold("/jobs/a"); !ok || !expired || release != nil {
		t.Fatalf("hold: expired %v, ok %v", expired, ok)
	}
	select {
	case job := <-fired:
		if job != "/jobs/a" {
			t.Fatalf("%s expired", job)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the binding was not expired")
	}
	if _, expired, _, _ := r.get("/jobs/a"); !expired {
		t.Fatal("get: not expired")
	}
	r.remove("/jobs/a")
}
