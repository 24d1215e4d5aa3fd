package pgtest

import (
	"testing"
)

// StartT starts a server for a test or benchmark and stops it when t ends,
// whether t passed or not. If t has failed by then, the end of the server
// log is logged first. A start failure is fatal; its message has the end of
// the log. Tests that should skip where PostgreSQL cannot run check
// Available first.
func StartT(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postgres log %s (last lines):\n%s", s.LogFile(), s.LogTail(logTailLines))
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stop postgres: %v", err)
		}
	})
	return s
}

// StartBouncerT starts pgbouncer in front of s for a test or benchmark and
// stops it when t ends. Cleanups run last-registered first, so a bouncer
// started after StartT stops before its server.
func StartBouncerT(t testing.TB, s *Server, opts BouncerOptions) *Bouncer {
	t.Helper()
	b, err := StartBouncer(t.Context(), s, opts)
	if err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgbouncer log %s (last lines):\n%s", b.LogFile(), b.LogTail(logTailLines))
		}
		if err := b.Stop(); err != nil {
			t.Errorf("stop pgbouncer: %v", err)
		}
	})
	return b
}
