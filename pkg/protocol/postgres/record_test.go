package postgres

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/record"
)

// openStore opens a recording store in a temporary directory.
func openStore(t *testing.T) *record.Store {
	t.Helper()
	return openSampleStore(t, 0)
}

// openSampleStore opens a recording store in a temporary directory whose
// result events keep rows rows.
func openSampleStore(t *testing.T, rows int) *record.Store {
	t.Helper()
	s, err := record.Open(t.TempDir(), record.Options{SampleRows: rows})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// recordedEvent is one decoded event of a recording.
type recordedEvent struct {
	seq uint64
	v   any
}

// recordedEvents returns the decoded events of session id's recording,
// header and end apart.
func recordedEvents(t *testing.T, s *record.Store, id string) (*record.Header, []recordedEvent, *record.End) {
	t.Helper()
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	rel, err := record.Find(s.Dir(), id)
	if err != nil {
		t.Fatal(err)
	}
	rd, f, err := record.OpenFile(filepath.Join(s.Dir(), rel), record.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []recordedEvent
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if _, end := v.(*record.End); !end {
			evs = append(evs, recordedEvent{e.Seq, v})
		}
	}
	return rd.Header(), evs, rd.End()
}

// readRecording returns the lines of session id's recording, one summary
// per event: "kind key=value...".
func readRecording(t *testing.T, s *record.Store, id string) (*record.Header, []string, *record.End) {
	t.Helper()
	h, evs, end := recordedEvents(t, s, id)
	var lines []string
	for _, e := range evs {
		switch ev := e.v.(type) {
		case *record.Login:
			lines = append(lines, fmt.Sprintf("login user=%s database=%s auth=%s", ev.User, ev.Database, ev.Auth))
		case *record.Statement:
			l := fmt.Sprintf("statement %d %s %s %q class=%s rule=%s", e.seq, ev.Phase, ev.Decision, ev.Text, ev.Class, ev.Rule)
			if len(ev.Params) > 0 {
				l += " params=" + strings.Join(ev.Params, ",")
			}
			lines = append(lines, l)
		case *record.Result:
			l := fmt.Sprintf("result of %d", ev.Statement)
			if ev.HasRows {
				l += fmt.Sprintf(" rows=%d", ev.Rows)
			}
			if ev.Code != "" {
				l += " code=" + ev.Code
			}
			if ev.Note != "" {
				l += " note=" + ev.Note
			}
			lines = append(lines, l)
		case *record.Approval:
			l := fmt.Sprintf("approval %s of %d %s", ev.ID, ev.Statement, ev.Status)
			if ev.Approver != "" {
				l += fmt.Sprintf(" by %s uid=%d", ev.Approver, *ev.ApproverUID)
			}
			if ev.Grant != "" {
				l += " grant=" + ev.Grant
			}
			if ev.Note != "" {
				l += " note=" + ev.Note
			}
			lines = append(lines, l)
		default:
			lines = append(lines, fmt.Sprintf("%T", e.v))
		}
	}
	return h, lines, end
}

func TestRecording(t *testing.T) {
	store := openStore(t)
	e := newEnv(t, envOptions{records: store})
	c, _ := e.connect(nil)
	// A result is written once the client has its answer: wait for it
	// (its db.query event comes right after) before the next statement,
	// so that the order of the recording is fixed.
	after := func(n int) func(*testEnv) {
		return func(e *testEnv) { waitQueryEvents(t, e.audit, n) }
	}
	del := q("DELETE FROM t WHERE id = 1", "ErrorResponse ERROR 42501", "ReadyForQuery I")
	del.before = after(1)
	runSteps(t, e, c, []step{
		q("SELECT 1", "RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I"),
		del,
		{
			before: after(2),
			send: []pgproto3.FrontendMessage{
				&pgproto3.Parse{Name: "s1", Query: "SELECT $1::int"},
				&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{[]byte("42")}},
				&pgproto3.Execute{},
				&pgproto3.Sync{},
			},
			want: []string{"ParseComplete", "BindComplete", "DataRow 1", "DataRow 2", "DataRow 3", "CommandComplete SELECT 3", "ReadyForQuery I"},
		},
	})
	c.terminate()

	h, lines, end := readRecording(t, store, "sess-1")
	if h.Identity != testIdentity || h.Target != testTarget || h.User != "alice" || h.Database != "app" || h.PolicyVersion != "" || h.Protocol != "postgres" {
		t.Errorf("header = %+v", h)
	}
	want := []string{
		"login user=alice database=app auth=passthrough",
		`statement 2 query allow "SELECT 1" class=select rule=allow-rest`,
		"result of 2 rows=1",
		`statement 4 query deny "DELETE FROM t WHERE id = 1" class=delete rule=no-delete`,
		"result of 4 code=42501",
		// Pipelined: both are written before the Sync goes upstream.
		`statement 6 parse allow "SELECT $1::int" class=select rule=allow-rest`,
		`statement 7 execute allow "SELECT $1::int" class=select rule=allow-rest params=42`,
		"result of 6",
		"result of 7 rows=3",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("recording:\n\t%s\nwant\n\t%s", strings.Join(lines, "\n\t"), strings.Join(want, "\n\t"))
	}
	if end == nil || end.Reason != "client_closed" || end.Statements != 4 || end.Denied != 1 {
		t.Errorf("end = %+v", end)
	}
}

// waitQueryEvents waits until log holds n db.query events.
func waitQueryEvents(t *testing.T, log *auditLog, n int) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for len(log.events(t, "db.query")) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d db.query events after %v", n, ioTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// brokenStore fails to create recordings, as a full disk does.
type brokenStore struct{}

func (brokenStore) Create(record.Header) (*record.Recording, error) {
	return nil, fmt.Errorf("create recording: %w: no space left on device", record.ErrWrite)
}

func TestRecordFailure(t *testing.T) {
	t.Run("deny refuses what cannot be recorded", func(t *testing.T) {
		e := newEnv(t, envOptions{records: brokenStore{}})
		c, _ := e.connect(nil)
		runSteps(t, e, c, []step{
			q("SELECT 1", "ErrorResponse ERROR 42501", "ReadyForQuery I").
				errContains(`rule "recording-failed"`, "no space left on device", "on_record_failure: deny"),
			q("SELECT 2", "ErrorResponse ERROR 42501", "ReadyForQuery I"),
		})
		checkUpstream(t, e, []string{denied, denied}, []string{"SELECT"})
		// One at the start of the session, one per statement: each
		// tries to create the recording again.
		if got := e.audit.events(t, "record.failed"); len(got) != 3 {
			t.Errorf("%d record.failed events, want one per attempt (3)", len(got))
		}
	})
	t.Run("allow runs it unrecorded", func(t *testing.T) {
		e := newEnv(t, envOptions{records: brokenStore{}, recordFailure: config.RecordFailureAllow})
		c, _ := e.connect(nil)
		runSteps(t, e, c, []step{
			q("SELECT 1", "RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I"),
		})
		checkUpstream(t, e, []string{"Q SELECT 1"}, nil)
		got := e.audit.events(t, "record.failed")
		if len(got) == 0 || got[0]["on_record_failure"] != "allow" {
			t.Errorf("record.failed events: %v", got)
		}
	})
}
