package record

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A recording that reaches MaxSessionBytes refuses further events with
// ErrSessionFull (an ErrWrite: the statement is refused as for a full
// disk), and still ends and verifies.
func TestSessionFull(t *testing.T) {
	const max = 64 << 10
	s, dir := openStore(t, Options{FsyncInterval: time.Hour, MaxSessionBytes: max})
	r, err := s.Create(pgHeader(idA))
	if err != nil {
		t.Fatal(err)
	}
	big := &Statement{Phase: "query", Text: "SELECT '" + strings.Repeat("x", 4000) + "'", Class: "select", Command: "SELECT",
		Decision: DecisionAllow, Policy: "p", Rule: "r"}
	n := 0
	for ; n < 100; n++ {
		if _, err = r.Append(big); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrSessionFull) || !errors.Is(err, ErrWrite) {
		t.Fatalf("after %d statements: %v, want ErrSessionFull and ErrWrite", n, err)
	}
	if n == 0 || n > max/4000 {
		t.Fatalf("%d statements of 4 KB fit in %d bytes", n, max)
	}
	// What still fits is written; what does not stays refused.
	if _, err := r.AppendLater(&Result{Statement: 2, Rows: 1, HasRows: true}); err != nil {
		t.Fatalf("a small result within the bound: %v", err)
	}
	if _, err := r.Append(big); !errors.Is(err, ErrSessionFull) {
		t.Fatalf("a statement past the bound: %v", err)
	}
	if err := r.Close(Summary{Reason: "client_closed"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(dir, VerifyOptions{PublicKey: s.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 || len(rep.Recordings) != 1 || rep.Recordings[0].State != StateOK {
		t.Fatalf("verify: %+v", rep)
	}
}
