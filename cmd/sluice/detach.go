package main

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/intercept"
)

// cmdDetach removes the programs and pins. With the daemon running it asks
// the daemon (which then stops); otherwise it removes the pins itself.
func cmdDetach(controlFlag string, args []string) error {
	fs := flag.NewFlagSet("detach", flag.ContinueOnError)
	cfgPath := fs.String("config", "/etc/sluice/sluice.yaml", "configuration file (to find the pin directory)")
	pinFlag := fs.String("pin-dir", "", "pin directory (overrides the configuration)")
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	sock := control.SocketPath(controlFlag)
	_, err := control.Call(sock, control.Request{Op: control.OpDetach}, 30*time.Second)
	if err == nil {
		if waitGone(sock, 15*time.Second) {
			fmt.Println("sluiced removed its programs and pins and stopped")
			return nil
		}
		return errors.New("detach: sluiced did not stop in time")
	}
	if !errors.Is(err, control.ErrNoDaemon) {
		return fmt.Errorf("detach: %w", err)
	}

	dir := *pinFlag
	if dir == "" {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return fmt.Errorf("detach: sluiced is not running and the pin directory is unknown: %w", err)
		}
		dir = cfg.BPF.PinDir
		if dir == "" {
			fsPath, err := intercept.FindBPFFS()
			if errors.Is(err, intercept.ErrNoBPFFS) {
				fmt.Println("nothing to detach: no bpffs is mounted")
				return nil
			}
			if err != nil {
				return fmt.Errorf("detach: %w", err)
			}
			dir = filepath.Join(fsPath, "sluice")
		}
	}
	if err := intercept.Remove(dir); err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	fmt.Printf("removed pinned programs and maps under %s\n", dir)
	return nil
}

// waitGone waits until nothing answers on the control socket.
func waitGone(sock string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := control.Call(sock, control.Request{Op: control.OpStatus}, time.Second); errors.Is(err, control.ErrNoDaemon) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
