package tcp

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// echoUntilEOF reads everything, then writes back what it read and closes:
// it only works if the relay forwards the client's half-close.
func echoUntilEOF(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				data, _ := io.ReadAll(c)
				c.Write(data)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln
}

func TestServeHalfCloseAndCounts(t *testing.T) {
	up := echoUntilEOF(t)
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()
	results := make(chan protocol.Result, 1)
	go func() {
		c, err := front.Accept()
		if err != nil {
			return
		}
		dial := func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", up.Addr().String())
		}
		res, err := Handler{}.Serve(context.Background(), &protocol.Session{}, c, dial)
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
		results <- res
	}()

	payload := make([]byte, 1<<20)
	rand.Read(payload)
	c, err := net.Dial("tcp", front.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		c.Write(payload)
		c.(*net.TCPConn).CloseWrite()
	}()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echoed %d bytes, want the %d sent", len(got), len(payload))
	}
	select {
	case res := <-results:
		if res.BytesUp != int64(len(payload)) || res.BytesDown != int64(len(payload)) {
			t.Errorf("counts = %+v, want %d each way", res, len(payload))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after both sides closed")
	}
}

func TestServeDialFailureClosesClient(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	dial := func(context.Context) (net.Conn, error) { return nil, io.ErrUnexpectedEOF }
	if _, err := (Handler{}).Serve(context.Background(), &protocol.Session{}, a, dial); err == nil {
		t.Fatal("want a dial error")
	}
	b.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := b.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("client not closed: %v", err)
	}
}

func TestRelayCancel(t *testing.T) {
	a1, a2 := net.Pipe()
	b1, b2 := net.Pipe()
	defer a2.Close()
	defer b2.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := Relay(ctx, a1, b1); done <- err }()
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Relay did not stop on cancel")
	}
}
