package logsctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/metrics"
)

var errNotReader = errors.New("not authorized: uid 1002 may not read the event stream (see log.readers)")

// world is a Logger with history and the Ops serving it.
type world struct {
	log *audit.Logger
	ops *Ops
	m   *metrics.EventReaders
}

func newWorld(t *testing.T, history int) *world {
	t.Helper()
	l, err := audit.New(&strings.Builder{}, audit.Options{History: history})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New().RegisterEventReaders()
	w := &world{log: l, m: m}
	w.ops = &Ops{Events: l.Stream(), Metrics: m, Authorize: func(p control.Peer) error {
		if p.UID == 0 {
			return nil
		}
		return errNotReader
	}}
	return w
}

// emit writes one event of each of a few kinds for identity and target.
func (w *world) emit(n int, identity, target string) {
	for i := range n {
		w.log.Event(audit.DBQuery).Str("identity", identity).Str("target", target).Int("i", i).Msg("statement")
		w.log.Event(audit.DBLogin).Str("identity", identity).Str("target", target).Int("i", i).Msg("database login")
		w.log.Event(audit.ConnectionOpen).Str("identity", identity).Str("target", target).Int("i", i).Msg("connection open")
	}
	w.log.Debug().Msg("debug lines have no event field")
}

// summary renders event lines as "event identity/target i".
func summary(t *testing.T, lines []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		var ev struct {
			Event, Identity, Target string
			I                       int
		}
		if err := json.Unmarshal(l, &ev); err != nil {
			t.Fatalf("not an event line: %q", l)
		}
		out = append(out, fmt.Sprintf("%s %s/%s %d", ev.Event, ev.Identity, ev.Target, ev.I))
	}
	return out
}

// collect runs a stream without follow and returns its one batch.
func (w *world) collect(t *testing.T, peer control.Peer, lr control.LogsRequest) (*control.LogsBatch, error) {
	t.Helper()
	var got []control.Response
	err := w.ops.Stream(context.Background(), peer, control.Request{Op: control.OpLogs, Logs: &lr}, func(r control.Response) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(got) != 1 || !got[0].OK || got[0].Logs == nil || !got[0].Logs.End {
		t.Fatalf("a stream without follow sent %+v, want one last batch", got)
	}
	return got[0].Logs, nil
}

func TestHeldEvents(t *testing.T) {
	w := newWorld(t, 1<<20)
	before := time.Now()
	w.emit(2, "nightly-etl", "orders-db")
	mid := time.Now()
	w.emit(2, "ci-job", "artifact-cache")
	root := control.Peer{UID: 0}
	tests := []struct {
		name string
		req  control.LogsRequest
		want []string
	}{
		{"one type", control.LogsRequest{Events: []string{"db.query"}}, []string{
			"db.query nightly-etl/orders-db 0", "db.query nightly-etl/orders-db 1",
			"db.query ci-job/artifact-cache 0", "db.query ci-job/artifact-cache 1"}},
		{"prefix and identity", control.LogsRequest{Events: []string{"db.*"}, Identity: "ci-job"}, []string{
			"db.query ci-job/artifact-cache 0", "db.login ci-job/artifact-cache 0",
			"db.query ci-job/artifact-cache 1", "db.login ci-job/artifact-cache 1"}},
		{"two types and a target", control.LogsRequest{Events: []string{"connection.open", "db.login"}, Target: "orders-db"}, []string{
			"db.login nightly-etl/orders-db 0", "connection.open nightly-etl/orders-db 0",
			"db.login nightly-etl/orders-db 1", "connection.open nightly-etl/orders-db 1"}},
		{"since", control.LogsRequest{Events: []string{"db.query"}, Since: &mid}, []string{
			"db.query ci-job/artifact-cache 0", "db.query ci-job/artifact-cache 1"}},
		{"last", control.LogsRequest{Identity: "nightly-etl", Last: 2}, []string{
			"db.login nightly-etl/orders-db 1", "connection.open nightly-etl/orders-db 1"}},
		{"nothing matches", control.LogsRequest{Identity: "nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := w.collect(t, root, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(t, b.Events); !slices.Equal(got, tt.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
			if !b.Complete || b.Oldest == nil || b.Oldest.Before(before.Add(-time.Second)) || b.Dropped != 0 {
				t.Errorf("batch: complete %t, oldest %v, dropped %d", b.Complete, b.Oldest, b.Dropped)
			}
		})
	}
	all, err := w.collect(t, root, control.LogsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Events) != 12 {
		t.Errorf("%d events without a filter, want the 12 written (debug lines are not events)", len(all.Events))
	}
}

func TestRefused(t *testing.T) {
	w := newWorld(t, 1<<20)
	tests := []struct {
		name string
		peer control.Peer
		req  control.LogsRequest
		want string
	}{
		{"not a reader", control.Peer{UID: 1002}, control.LogsRequest{}, "logs: " + errNotReader.Error()},
		{"bad event type", control.Peer{}, control.LogsRequest{Events: []string{"db.query; rm -rf /"}},
			`logs: event type "db.query; rm -rf /": write a type such as db.query, or a prefix such as db.*`},
		{"glob inside", control.Peer{}, control.LogsRequest{Events: []string{"db.*.x"}}, "logs: event type"},
		{"negative last", control.Peer{}, control.LogsRequest{Last: -1}, "logs: last must be between 0 and 100000"},
		{"too many types", control.Peer{}, control.LogsRequest{Events: slices.Repeat([]string{"db.query"}, 65)}, "logs: at most 64 event types"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.collect(t, tt.peer, tt.req)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if err := (&Ops{}).Stream(context.Background(), control.Peer{}, control.Request{Op: control.OpLogs}, nil); err == nil {
		t.Error("an Ops without a stream served")
	}
}

// TestFollow: a follower gets the last events asked for, then each new
// matching one; a reader that stops reading loses events, is told how
// many, and never holds the writers up.
func TestFollow(t *testing.T) {
	w := newWorld(t, 64<<10)
	w.emit(3, "nightly-etl", "orders-db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batches := make(chan *control.LogsBatch)
	release := make(chan struct{})
	var hold sync.Once
	done := make(chan error, 1)
	n := 0
	go func() {
		req := control.Request{Op: control.OpLogs, Logs: &control.LogsRequest{Follow: true, Last: 1, Events: []string{"db.query"}}}
		done <- w.ops.Stream(ctx, control.Peer{}, req, func(r control.Response) error {
			n++
			if n == 3 {
				// The reader stops reading for a while.
				hold.Do(func() { <-release })
			}
			select {
			case batches <- r.Logs:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	next := func() *control.LogsBatch {
		t.Helper()
		select {
		case b := <-batches:
			return b
		case err := <-done:
			t.Fatalf("the stream ended: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("no batch")
		}
		return nil
	}
	if b := next(); !slices.Equal(summary(t, b.Events), []string{"db.query nightly-etl/orders-db 2"}) || b.End {
		t.Fatalf("first batch %v, end %t: want the last db.query held", summary(t, b.Events), b.End)
	}
	if v := testutil.ToFloat64(w.m.Readers); v != 1 {
		t.Errorf("sluice_event_readers = %v, want 1", v)
	}
	w.log.Event(audit.ConnectionOpen).Str("identity", "x").Msg("not a db.query")
	w.log.Event(audit.DBQuery).Str("identity", "x").Int("i", 7).Msg("statement")
	if got := summary(t, next().Events); !slices.Equal(got, []string{"db.query x/ 7"}) {
		t.Fatalf("second batch %v", got)
	}
	// The third send blocks: meanwhile, far more than the 64 KiB held is
	// written, and every write returns.
	w.log.Event(audit.DBQuery).Str("identity", "x").Int("i", 8).Msg("statement")
	wrote := make(chan struct{})
	go func() {
		w.emit(2000, "flood", "orders-db")
		close(wrote)
	}()
	select {
	case <-wrote:
	case <-time.After(30 * time.Second):
		t.Fatal("writers were held up by a reader that does not read")
	}
	close(release)
	var dropped uint64
	var events []string
	for !slices.Contains(events, "db.query flood/orders-db 1999") {
		b := next()
		dropped += b.Dropped
		events = append(events, summary(t, b.Events)...)
	}
	if dropped == 0 || len(events) >= 2001 {
		t.Errorf("%d dropped, %d events received: want events lost and counted", dropped, len(events))
	}
	if v := testutil.ToFloat64(w.m.Dropped); v != float64(dropped) {
		t.Errorf("sluice_event_reader_dropped_total = %v, want %d", v, dropped)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("a stream the caller left ended with %v", err)
	}
	if v := testutil.ToFloat64(w.m.Readers); v != 0 {
		t.Errorf("sluice_event_readers = %v after the reader left", v)
	}
}

// TestOverSocket: the operation through a control socket, as sluice logs
// reaches it.
func TestOverSocket(t *testing.T) {
	w := newWorld(t, 1<<20)
	path := filepath.Join(t.TempDir(), "control.sock")
	srv, err := control.Listen(path, handler{w.ops})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { _ = srv.Serve(ctx); close(served) }()
	defer func() { cancel(); <-served }()

	w.emit(1, "nightly-etl", "orders-db")
	var got []string
	err = control.Stream(path, control.Request{Op: control.OpLogs, Logs: &control.LogsRequest{Events: []string{"db.login"}}}, func(r control.Response) error {
		got = append(got, summary(t, r.Logs.Events)...)
		return nil
	})
	if !errors.Is(err, control.ErrStreamEnded) || !slices.Equal(got, []string{"db.login nightly-etl/orders-db 0"}) {
		t.Errorf("stream: %v, %v", err, got)
	}
}

// handler answers only streams.
type handler struct{ *Ops }

func (handler) Handle(context.Context, control.Peer, control.Request) control.Response {
	return control.Response{Error: "not streamed"}
}

// TestFollowRevoked: a reader removed from log.readers (a reload) while
// following gets no event written after that, and its stream ends.
func TestFollowRevoked(t *testing.T) {
	w := newWorld(t, 64<<10)
	var revoked sync.Mutex
	allowed := true
	w.ops.Authorize = func(control.Peer) error {
		revoked.Lock()
		defer revoked.Unlock()
		if allowed {
			return nil
		}
		return errNotReader
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan []string, 16)
	done := make(chan error, 1)
	go func() {
		req := control.Request{Op: control.OpLogs, Logs: &control.LogsRequest{Follow: true}}
		done <- w.ops.Stream(ctx, control.Peer{UID: 1002}, req, func(r control.Response) error {
			got <- summary(t, r.Logs.Events)
			return nil
		})
	}()
	<-got // the first, empty batch
	w.log.Event(audit.DBQuery).Str("identity", "x").Int("i", 1).Msg("statement")
	if b := <-got; !slices.Equal(b, []string{"db.query x/ 1"}) {
		t.Fatalf("while a reader: %v", b)
	}
	revoked.Lock()
	allowed = false
	revoked.Unlock()
	w.log.Event(audit.DBQuery).Str("identity", "x").Int("i", 2).Msg("statement")
	select {
	case err := <-done:
		if !errors.Is(err, errNotReader) {
			t.Fatalf("stream ended with %v", err)
		}
	case b := <-got:
		t.Fatalf("sent after the reader was removed: %v", b)
	case <-time.After(10 * time.Second):
		t.Fatal("the stream went on")
	}
}
