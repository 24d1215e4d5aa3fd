package approval

import (
	"testing"
	"time"
)

// An approval once of a request nobody waits for any more lets through
// the approved statement, not another of its shape: a job cannot show an
// approver a harmless DELETE and run a broader one under the approval.
func TestOnceGrantIsForThatStatement(t *testing.T) {
	tb := newTestBroker(t, Options{})
	r := deleteRequest(fpDelete)
	h := tb.hold(t, r)
	tb.clock.Advance(DefaultTimeout)
	if o := h.outcome(t); o.Decision != TimedOut {
		t.Fatalf("outcome %+v", o)
	}
	if _, err := tb.Approve(alice, h.id, Once(), "one-off fix"); err != nil {
		t.Fatal(err)
	}
	others := []struct {
		name, text string
		params     []string
	}{
		{"another literal", "DELETE FROM sales.orders WHERE created < '2999-01-01'", nil},
		{"the same text with a parameter", "DELETE FROM sales.orders WHERE created < '2020-01-01'", []string{"x"}},
		{"the text cut differently", "DELETE FROM sales.orders WHERE created < '2020-01-01", []string{"'"}},
	}
	for _, o := range others {
		other := r
		other.Exact = Exact(o.text, o.params)
		if g, ok := tb.Check(&other); ok {
			t.Fatalf("%s: let through by %+v", o.name, g)
		}
	}
	noExact := r
	noExact.Exact = ""
	if _, ok := tb.Check(&noExact); ok {
		t.Fatal("a statement without Exact used a once grant")
	}
	g, ok := tb.Check(&r)
	if !ok || g.Request != h.id || !g.Once {
		t.Fatalf("the approved statement: %+v, %v", g, ok)
	}
	if _, ok := tb.Check(&r); ok {
		t.Fatal("once grant used twice")
	}
}

// An approver's own statements wait for another approver: an approval
// --for of someone else's request does not release them, and no grant
// the approver gave lets them through.
func TestApproverOwnStatements(t *testing.T) {
	tb := newTestBroker(t, Options{})
	job := deleteRequest(fpDelete)
	own := deleteRequest(fpDelete)
	own.Session = "a11ce5e55104e000"
	own.Attribution.UID = alice.UID
	hJob := tb.hold(t, job)
	hOwn := tb.hold(t, own)
	p, err := tb.Approve(alice, hJob.id, For(time.Hour), "backfill")
	if err != nil {
		t.Fatal(err)
	}
	if o := hJob.outcome(t); o.Decision != Approved {
		t.Fatalf("job's outcome %+v", o)
	}
	if len(p.Released) != 0 {
		t.Fatalf("released %v", p.Released)
	}
	hOwn.stillHeld(t)
	if g, ok := tb.Check(&own); ok {
		t.Fatalf("alice's own statement let through by her grant %+v", g)
	}
	if _, ok := tb.Check(&job); !ok {
		t.Fatal("the job's statement not let through by the window")
	}
	// Another approver may still decide alice's request.
	if _, err := tb.Approve(bob, hOwn.id, Once(), "checked"); err != nil {
		t.Fatal(err)
	}
	if o := hOwn.outcome(t); o.Decision != Approved {
		t.Fatalf("alice's outcome %+v", o)
	}

	// A once grant of a request that timed out: not for the approver's
	// own process either.
	tb2 := newTestBroker(t, Options{})
	h := tb2.hold(t, job)
	tb2.clock.Advance(DefaultTimeout)
	h.outcome(t)
	if _, err := tb2.Approve(alice, h.id, Once(), "one-off"); err != nil {
		t.Fatal(err)
	}
	if g, ok := tb2.Check(&own); ok {
		t.Fatalf("alice's own process used her once grant %+v", g)
	}
	if _, ok := tb2.Check(&job); !ok {
		t.Fatal("the job's statement not let through")
	}
}

// A grant is for what the approved statement did: the same text that
// resolves to other relations (another search_path), or calls other
// functions, is another statement, held again.
func TestGrantScope(t *testing.T) {
	tb := newTestBroker(t, Options{})
	staging := deleteRequest(fpDelete)
	staging.Scope = Scope("delete", "review-writes", "deletes", "staging.orders", "staging.orders", "", "")
	prod := staging
	prod.Session = "0b0b0b0b0b0b0b0b"
	prod.Scope = Scope("delete", "review-writes", "review-prod", "prod.orders", "prod.orders", "", "")
	h := tb.hold(t, staging)
	if _, err := tb.Approve(alice, h.id, For(time.Hour), "staging cleanup"); err != nil {
		t.Fatal(err)
	}
	if o := h.outcome(t); o.Decision != Approved {
		t.Fatalf("outcome %+v", o)
	}
	if _, ok := tb.Check(&staging); !ok {
		t.Fatal("the approved scope is not let through")
	}
	if g, ok := tb.Check(&prod); ok {
		t.Fatalf("the same text on prod let through by %+v", g)
	}
	if Scope("a", "b") == Scope("ab") || Scope("a", "") == Scope("a") {
		t.Fatal("scopes of different parts collide")
	}
}
