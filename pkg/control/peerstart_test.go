package control

import (
	"os"
	"os/exec"
	"testing"
)

func TestPeerCurrent(t *testing.T) {
	self, err := procStart(int32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if !(Peer{PID: int32(os.Getpid()), start: self}).Current() {
		t.Fatal("this process is not current")
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start, err := procStart(int32(cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	p := Peer{PID: int32(cmd.Process.Pid), start: start}
	if !p.Current() {
		t.Fatal("a running child is not current")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if p.Current() {
		t.Fatal("an exited child is current")
	}
	if (Peer{PID: int32(os.Getpid())}).Current() {
		t.Fatal("a peer whose start is unknown is current")
	}
}
