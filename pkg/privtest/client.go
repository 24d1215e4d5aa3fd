package privtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperEnv switches a test binary into client mode (see Main).
const helperEnv = "SLUICE_TEST_CLIENT"

// Main runs the tests, or, when the binary was started by Client, acts as the
// client process. Packages that use Client call it from TestMain:
//
//	func TestMain(m *testing.M) { privtest.Main(m) }
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main without the exit, for a TestMain with cleanup of its own: in
// client mode it acts as the client, otherwise it runs the tests, and it
// returns the exit code.
func Run(m *testing.M) int {
	if spec := os.Getenv(helperEnv); spec != "" {
		return runClient(spec)
	}
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	return code
}

// ClientMode reports whether this test binary was started as a client.
func ClientMode() bool { return os.Getenv(helperEnv) != "" }

var (
	sharedOnce sync.Once
	sharedDir  string
	sharedExe  string
	sharedErr  error
)

// executable returns a copy of the test binary that any uid can run: the
// go test build directory is private to root.
func executable(uid uint32) (string, error) {
	if uid == 0 {
		return os.Args[0], nil
	}
	sharedOnce.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "sluice-client-")
		if sharedErr != nil {
			return
		}
		if sharedErr = os.Chmod(sharedDir, 0o755); sharedErr != nil {
			return
		}
		data, err := os.ReadFile(os.Args[0])
		if err != nil {
			sharedErr = err
			return
		}
		sharedExe = filepath.Join(sharedDir, "client")
		sharedErr = os.WriteFile(sharedExe, data, 0o755)
	})
	return sharedExe, sharedErr
}

// ClientResult is what a client process saw.
type ClientResult struct {
	Local string `json:"local,omitempty"` // getsockname
	Peer  string `json:"peer,omitempty"`  // getpeername: should be the address asked for
	Reply string `json:"reply,omitempty"` // the first line the server sent back
	Error string `json:"error,omitempty"` // connect or I/O error
	PID   int    `json:"pid"`
}

// Dial describes one connection made by a client process. Family is "4"
// (AF_INET), "6" (AF_INET6) or "mapped" (AF_INET6 socket to ::ffff:a.b.c.d).
// Family "listen" makes the process bind and listen on Addr instead; the
// result's Error says whether it could.
type Dial struct {
	Family  string
	Addr    netip.AddrPort
	Send    string // a line sent after connecting; the reply line is read
	Timeout time.Duration
}

// Client runs one connection from a new process placed in cgroup dir (so the
// kernel programs see that process) and returns what it saw. uid/gid, when
// non-zero, set the process's credentials.
func Client(t testing.TB, dir string, d Dial, uid, gid uint32) ClientResult {
	t.Helper()
	exe, env := ClientCommand(t, d, uid)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open cgroup %s: %v", dir, err)
	}
	defer unix.Close(fd)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if uid != 0 || gid != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uid, Gid: gid}
	}
	if err := cmd.Run(); err != nil {
		t.Fatalf("client process: %v\nstderr: %s", err, errb.String())
	}
	return ParseClientResult(t, out.Bytes())
}

// ClientCommand returns the executable and environment of a client process
// making connection d (run it with the argument "-test.run=^$"), for tests
// that start it themselves, for example behind `sluice run`. The executable
// is runnable by uid.
func ClientCommand(t testing.TB, d Dial, uid uint32) (exe string, env []string) {
	t.Helper()
	spec, _ := json.Marshal(clientSpec{Family: d.Family, Addr: d.Addr.String(), Send: d.Send, Timeout: d.Timeout})
	exe, err := executable(uid)
	if err != nil {
		t.Fatalf("client executable: %v", err)
	}
	return exe, append(os.Environ(), helperEnv+"="+string(spec))
}

// ParseClientResult decodes a client process's output.
func ParseClientResult(t testing.TB, out []byte) ClientResult {
	t.Helper()
	var res ClientResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("client output %q: %v", out, err)
	}
	return res
}

type clientSpec struct {
	Family  string
	Addr    string
	Send    string
	Timeout time.Duration
}

func runClient(spec string) int {
	var s clientSpec
	res := ClientResult{PID: os.Getpid()}
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		res.Error = err.Error()
	} else if err := dialOnce(s, &res); err != nil {
		res.Error = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
	return 0
}

func dialOnce(s clientSpec, res *ClientResult) error {
	ap, err := netip.ParseAddrPort(s.Addr)
	if err != nil {
		return err
	}
	if s.Timeout == 0 {
		s.Timeout = 5 * time.Second
	}
	var fd int
	var sa unix.Sockaddr
	if s.Family == "listen" {
		ln, err := net.Listen("tcp", ap.String())
		if err != nil {
			return err
		}
		res.Local = ln.Addr().String()
		return ln.Close()
	}
	switch s.Family {
	case "4":
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		sa = &unix.SockaddrInet4{Addr: ap.Addr().Unmap().As4(), Port: int(ap.Port())}
	case "6", "mapped":
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		a := ap.Addr()
		if s.Family == "mapped" {
			a = netip.AddrFrom16(a.As16()) // keeps ::ffff:a.b.c.d
		}
		sa = &unix.SockaddrInet6{Addr: a.As16(), Port: int(ap.Port())}
	default:
		return fmt.Errorf("unknown family %q", s.Family)
	}
	if err != nil {
		return err
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return fmt.Errorf("connect: %w", err)
	}
	if peer, err := unix.Getpeername(fd); err == nil {
		res.Peer = sockaddrString(peer)
	}
	if local, err := unix.Getsockname(fd); err == nil {
		res.Local = sockaddrString(local)
	}
	f := os.NewFile(uintptr(fd), "client")
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return err
	}
	defer conn.Close()
	if s.Send == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte(s.Send + "\n")); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	buf := make([]byte, 4096)
	var got []byte
	for !bytes.Contains(got, []byte("\n")) {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if len(got) == 0 {
				return fmt.Errorf("read: %w", err)
			}
			break
		}
	}
	res.Reply = strings.TrimRight(string(got), "\n")
	return nil
}

func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	}
	return fmt.Sprint(sa)
}
