package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The relay floor: three bare TCP relays, not part of sluice, that show
// what relaying alone costs in Go on this machine. "go" copies each
// direction in its own goroutine through Go's netpoller, as sluice's data
// path does; "thread" copies each direction with blocking system calls on
// a locked OS thread of its own, around the netpoller; "epoll" serves
// every connection from one thread polling raw descriptors, as pgbouncer
// does. Neither parses anything. bench runs each as a child
// process of its own (bench -relay MODE -listen ADDR -up ADDR), so that its
// CPU time can be measured apart.

// runRelay serves listen, relaying every connection to up, until killed.
func runRelay(mode, listen, up string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	var lp *epollLoop
	if mode == "epoll" {
		if lp, err = newEpollLoop(); err != nil {
			return err
		}
		go lp.run()
	} else if mode != "go" && mode != "thread" {
		return fmt.Errorf("relay mode %q: want go, thread or epoll", mode)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		u, err := net.Dial("tcp", up)
		if err != nil {
			c.Close()
			continue
		}
		if mode == "thread" {
			if err := threadPair(c.(*net.TCPConn), u.(*net.TCPConn)); err != nil {
				return err
			}
			continue
		}
		if lp == nil {
			go copyConn(u, c)
			go copyConn(c, u)
			continue
		}
		err = lp.add(c.(*net.TCPConn), u.(*net.TCPConn))
		c.Close()
		u.Close()
		if err != nil {
			return err
		}
	}
}

// copyConn copies src to dst with read(2) and write(2), and closes both
// at the end.
func copyConn(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// threadPair relays a and b with blocking descriptors, each direction on
// a locked OS thread of its own, bypassing Go's netpoller.
func threadPair(a, b *net.TCPConn) error {
	fa, err := rawFD(a)
	a.Close()
	if err != nil {
		b.Close()
		return err
	}
	fb, err := rawFD(b)
	b.Close()
	if err != nil {
		unix.Close(fa)
		return err
	}
	unix.SetNonblock(fa, false)
	unix.SetNonblock(fb, false)
	var once sync.Once
	done := func() {
		once.Do(func() {
			unix.Shutdown(fa, unix.SHUT_RDWR)
			unix.Shutdown(fb, unix.SHUT_RDWR)
		})
	}
	var wg sync.WaitGroup
	wg.Add(2)
	dir := func(from, to int) {
		defer wg.Done()
		runtime.LockOSThread()
		buf := make([]byte, 16<<10)
		for {
			n, err := unix.Read(from, buf)
			if n <= 0 || err != nil {
				done()
				return
			}
			if writeAll(to, buf[:n]) != nil {
				done()
				return
			}
		}
	}
	go dir(fa, fb)
	go dir(fb, fa)
	go func() { wg.Wait(); unix.Close(fa); unix.Close(fb) }()
	return nil
}

// epollLoop relays between pairs of raw, non-blocking descriptors from
// one locked thread.
type epollLoop struct {
	ep   int
	mu   sync.Mutex
	peer map[int]int
}

func newEpollLoop() (*epollLoop, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &epollLoop{ep: ep, peer: map[int]int{}}, nil
}

// add takes over copies of the descriptors of a and b.
func (l *epollLoop) add(a, b *net.TCPConn) error {
	fa, err := rawFD(a)
	if err != nil {
		return err
	}
	fb, err := rawFD(b)
	if err != nil {
		unix.Close(fa)
		return err
	}
	// Registered under the lock: the loop, woken by the first
	// descriptor (a peer that already closed), must not close the pair
	// before the second is registered.
	l.mu.Lock()
	defer l.mu.Unlock()
	l.peer[fa], l.peer[fb] = fb, fa
	for _, fd := range []int{fa, fb} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return err
		}
	}
	return nil
}

func rawFD(c *net.TCPConn) (int, error) {
	f, err := c.File()
	if err != nil {
		return -1, err
	}
	defer f.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return -1, err
	}
	return fd, unix.SetNonblock(fd, true)
}

func (l *epollLoop) run() {
	runtime.LockOSThread()
	events := make([]unix.EpollEvent, 128)
	buf := make([]byte, 16<<10)
	for {
		n, err := unix.EpollWait(l.ep, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "relay:", err)
			os.Exit(1)
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			l.mu.Lock()
			to, ok := l.peer[fd]
			l.mu.Unlock()
			if !ok {
				continue
			}
			m, err := unix.Read(fd, buf)
			if errors.Is(err, unix.EAGAIN) {
				continue
			}
			if m <= 0 || writeAll(to, buf[:m]) != nil {
				l.close(fd, to)
			}
		}
	}
}

// writeAll writes p to the non-blocking fd, waiting while its buffer is
// full.
func writeAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := unix.Write(fd, p)
		if errors.Is(err, unix.EAGAIN) {
			if _, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, 1000); err != nil && !errors.Is(err, unix.EINTR) {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func (l *epollLoop) close(a, b int) {
	l.mu.Lock()
	delete(l.peer, a)
	delete(l.peer, b)
	l.mu.Unlock()
	unix.Close(a) // closing removes it from the epoll set
	unix.Close(b)
}

// relayProc is a relay child process listening on host:port.
type relayProc struct {
	cmd  *exec.Cmd
	host string
	port int
}

// startRelay starts bench itself as a relay of mode in front of up and
// waits until it accepts.
func startRelay(mode, up string) (*relayProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(self, "-relay", mode, "-relay-listen", listen, "-relay-up", up)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &relayProc{cmd: cmd, host: "127.0.0.1", port: port}
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			c.Close() // the relay dialled up for it; this ends both
			return r, nil
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("relay %s did not come up: %w", mode, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *relayProc) stop() {
	if r != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}
