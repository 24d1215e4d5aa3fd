package e2e

import (
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/pgtest"
	"github.com/sluicehq/sluice/pkg/record"
)

// TestShutdownTellsClients stops sluiced (SIGTERM) while psql runs a
// statement through it: psql prints sluice's FATAL, as it would
// PostgreSQL's at a fast shutdown; the server is asked to cancel the
// statement; the statement's event and the session's recording say why it
// ended.
func TestShutdownTellsClients(t *testing.T) {
	w := newRecWorld(t, nil, "")
	w.seedOrders(t, pgtest.SCRAM)
	d := w.startDaemon(t)
	psql, err := pgtest.Bin("psql")
	if err != nil {
		t.Fatal(err)
	}
	job := startJob(t, w.socket(), 0, []string{"PGPASSWORD=" + etlPassword, "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=10"}, "",
		psql, "-X", "-At", "-h", w.pg.Host, "-p", strconv.Itoa(w.pg.Port), "-U", "etl", "-d", "orders", "-c", "SELECT pg_sleep(120)")
	sleepers := func() string {
		out, err := w.pg.Exec("orders", "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(120)' AND state = 'active'")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	waitFor(t, "the statement running on the server", func() bool { return sleepers() == "1" })

	d.stop(t)
	res := job.wait(t)
	if res.code == 0 || !strings.Contains(res.stderr, "FATAL:  terminating connection because sluiced is shutting down") {
		t.Errorf("psql did not print sluice's FATAL: %+v", res)
	}
	waitFor(t, "the statement cancelled on the server", func() bool { return sleepers() == "0" })

	q := d.waitEvent(t, "db.query of the sleep", func(ev event) bool {
		return ev.str("event") == "db.query" && ev.str("statement") == "SELECT pg_sleep(120)"
	})
	if !strings.Contains(q.str("note"), "session ended before the statement completed: sluiced is shutting down") {
		t.Errorf("db.query = %v", q)
	}
	session := q.str("session")
	c := d.waitEvent(t, "db.cancel of the sleep", func(ev event) bool {
		return ev.str("event") == "db.cancel" && ev.str("cancelled_session") == session
	})
	if c.str("outcome") != "routed" {
		t.Errorf("db.cancel = %v", c)
	}
	found := false
	for _, in := range recordingsOf(t, w.storeDir()) {
		if in.Session != session {
			continue
		}
		found = true
		rec := readRecording(t, w.storeDir(), in.Path)
		if rec.end == nil || rec.end.Reason != record.ReasonShutdown || !rec.signed {
			t.Errorf("recording end %+v (signed %v), want reason %s, signed", rec.end, rec.signed, record.ReasonShutdown)
		}
	}
	if !found {
		t.Errorf("no recording of session %s", session)
	}
}
