package control

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type echoHandler struct{}

func (echoHandler) Handle(_ context.Context, p Peer, req Request) Response {
	if req.Op != OpRun {
		return Response{Error: "unknown op " + req.Op}
	}
	return Response{OK: true, Job: &Job{Identity: req.Identity, CgroupID: uint64(p.UID)<<32 | uint64(p.PID)}}
}

func startServer(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	srv, err := Listen(path, echoHandler{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return path
}

func TestCallCarriesKernelCredentials(t *testing.T) {
	path := startServer(t)
	resp, err := Call(path, Request{Op: OpRun, Identity: "ci-job"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := uint64(os.Getuid())<<32 | uint64(os.Getpid())
	if resp.Job == nil || resp.Job.Identity != "ci-job" || resp.Job.CgroupID != want {
		t.Fatalf("resp = %+v, want peer uid/pid %x", resp.Job, want)
	}
	if _, err := Call(path, Request{Op: "nope"}, 5*time.Second); err == nil || !strings.Contains(err.Error(), "unknown op") {
		t.Fatalf("error = %v", err)
	}
}

func TestBadRequests(t *testing.T) {
	path := startServer(t)
	cases := []struct {
		name, send, want string
	}{
		{"not json", "hello\n", "bad request"},
		{"oversized", strings.Repeat("x", maxRequest+10) + "\n", "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			go c.Write([]byte(tc.send))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4096)
			n, _ := c.Read(buf)
			if !strings.Contains(string(buf[:n]), tc.want) {
				t.Errorf("response %q, want %q", buf[:n], tc.want)
			}
		})
	}
}

func TestSecondDaemonRefused(t *testing.T) {
	path := startServer(t)
	if _, err := Listen(path, echoHandler{}); err == nil || !strings.Contains(err.Error(), "another daemon") {
		t.Fatalf("second Listen: %v", err)
	}
}

func TestNoDaemon(t *testing.T) {
	_, err := Call(filepath.Join(t.TempDir(), "none.sock"), Request{Op: OpStatus}, time.Second)
	if !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("err = %v", err)
	}
}
