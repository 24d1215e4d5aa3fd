package control

import "testing"

func TestConnLimits(t *testing.T) {
	var l connLimits
	for i := range maxConnsPerUID {
		if !l.take(1000) {
			t.Fatalf("connection %d of uid 1000 refused", i+1)
		}
	}
	if l.take(1000) {
		t.Fatal("uid 1000 got one more than its bound")
	}
	if !l.take(1001) {
		t.Fatal("another uid refused while uid 1000 is at its bound")
	}
	for range 10 * maxConns {
		if !l.take(0) {
			t.Fatal("root refused")
		}
	}
	l.release(1000)
	if !l.take(1000) {
		t.Fatal("a released connection was not given back")
	}
	// All users together.
	var all connLimits
	n := 0
	for uid := uint32(1); all.take(uid); uid = 1 + uid%100 {
		n++
	}
	if n != maxConns {
		t.Fatalf("%d connections for all users, want %d", n, maxConns)
	}
	all.release(1)
	if all.total != maxConns-1 || !all.take(1) {
		t.Fatalf("after a release: %d held, and no room for one more", all.total)
	}
}
