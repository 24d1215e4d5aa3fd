package control

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// streamHandler streams one change per tick until the caller leaves, or
// fails at once for a request whose ID is "fail".
type streamHandler struct {
	echoHandler
	ended chan error // what ended each stream
}

func (h streamHandler) Stream(ctx context.Context, p Peer, req Request, send func(Response) error) error {
	if req.ID == "fail" {
		return errors.New("approvals.watch: uid 65534 is not an approver")
	}
	for i := 0; ; i++ {
		if err := send(Response{OK: true, Change: "requested", Approval: &Approval{ID: fmt.Sprint(i), UID: p.UID}}); err != nil {
			h.ended <- err
			return err
		}
		select {
		case <-ctx.Done():
			h.ended <- ctx.Err()
			return nil
		case <-time.After(time.Millisecond):
		}
	}
}

func startStreamServer(t *testing.T, h Handler) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	srv, err := Listen(path, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return path
}

func TestStream(t *testing.T) {
	h := streamHandler{ended: make(chan error, 1)}
	path := startStreamServer(t, h)
	var got []string
	stop := errors.New("enough")
	err := Stream(path, Request{Op: OpApprovalsWatch}, func(r Response) error {
		got = append(got, r.Approval.ID)
		if len(got) == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || strings.Join(got, ",") != "0,1,2" {
		t.Fatalf("Stream = %v after %v", err, got)
	}
	// The client went away: the handler's stream ends.
	select {
	case err := <-h.ended:
		if err == nil {
			t.Fatal("stream ended without a cause")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end when the client left")
	}

	err = Stream(path, Request{Op: OpApprovalsWatch, ID: "fail"}, func(Response) error { return nil })
	if err == nil || err.Error() != "approvals.watch: uid 65534 is not an approver" {
		t.Fatalf("refused stream: %v", err)
	}
}

func TestStreamNotSupported(t *testing.T) {
	path := startServer(t) // echoHandler: no Stream method
	err := Stream(path, Request{Op: OpApprovalsWatch}, func(Response) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("err = %v", err)
	}
}

func TestStreamEndsWithServer(t *testing.T) {
	h := streamHandler{ended: make(chan error, 1)}
	path := filepath.Join(t.TempDir(), "control.sock")
	srv, err := Listen(path, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	n := 0
	err = Stream(path, Request{Op: OpApprovalsWatch}, func(Response) error {
		if n++; n == 2 {
			cancel() // the daemon stops
		}
		return nil
	})
	<-done
	if !errors.Is(err, ErrStreamEnded) {
		t.Fatalf("err = %v, want ErrStreamEnded", err)
	}
}
