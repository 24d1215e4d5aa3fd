package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// DefaultSocket is where the daemon listens unless configured otherwise.
const DefaultSocket = "/run/sluice/control.sock"

// ErrNoDaemon means nothing listens on the control socket.
var ErrNoDaemon = errors.New("sluiced is not running")

// SocketPath resolves the control socket: flag, then $SLUICE_CONTROL, then
// the default.
func SocketPath(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv("SLUICE_CONTROL"); env != "" {
		return env
	}
	return DefaultSocket
}

// ErrStreamEnded means the daemon ended a stream (it is stopping).
var ErrStreamEnded = errors.New("sluiced ended the stream")

// Stream sends a request of a streaming operation and calls each with
// every response, until each returns an error (returned as is), a
// response carries an error, or the daemon ends the stream
// (ErrStreamEnded).
func Stream(path string, req Request, each func(Response) error) error {
	c, err := net.DialTimeout("unix", path, 10*time.Second)
	if err != nil {
		return fmt.Errorf("%w (control socket %s: %v)", ErrNoDaemon, path, err)
	}
	defer c.Close()
	data, _ := json.Marshal(req)
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("control: send: %w", err)
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return ErrStreamEnded
		}
		if err != nil {
			return fmt.Errorf("control: read response: %w", err)
		}
		var resp Response
		if err := json.Unmarshal(line, &resp); err != nil {
			return fmt.Errorf("control: bad response: %w", err)
		}
		if !resp.OK {
			if resp.Error == "" {
				return errors.New("control: refused without a reason")
			}
			return errors.New(resp.Error)
		}
		if err := each(resp); err != nil {
			return err
		}
	}
}

// Call sends one request and waits up to timeout for the response.
func Call(path string, req Request, timeout time.Duration) (Response, error) {
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return Response{}, fmt.Errorf("%w (control socket %s: %v)", ErrNoDaemon, path, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	data, _ := json.Marshal(req)
	if _, err := c.Write(append(data, '\n')); err != nil {
		return Response{}, fmt.Errorf("control: send: %w", err)
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return Response{}, fmt.Errorf("control: read response: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return Response{}, fmt.Errorf("control: bad response: %w", err)
	}
	if !resp.OK && resp.Error != "" {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}
