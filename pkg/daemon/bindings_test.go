package daemon

import (
	"sync"
	"testing"
	"time"

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

	r.add("/jobs/a", soon(false))
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
	r.add("/jobs/b", soon(true))
	if _, _, d, _ := r.get("/jobs/b"); d != nil {
		t.Fatal("a keep binding ends sessions")
	}
	wait("/jobs/b")

	// A refresh before expiry: the old token's timer does nothing.
	old := soon(false)
	r.add("/jobs/c", old)
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
