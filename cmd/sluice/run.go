package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/pkg/control"
)

// cmdRun asks the daemon to place this process in a job cgroup tagged with
// the identity, then replaces itself with the command: the exit code, the
// signals and the process tree are the command's own.
func cmdRun(controlFlag string, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	ident := fs.String("identity", "", "identity to run the command as")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), "usage: sluice run --identity NAME -- CMD [ARGS...]") }
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	argv := fs.Args()
	if *ident == "" || len(argv) == 0 {
		fs.Usage()
		return exitError{2}
	}
	bin, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "sluice run: %v\n", err)
		return exitError{127}
	}
	resp, err := control.Call(control.SocketPath(controlFlag), control.Request{Op: control.OpRun, Identity: *ident}, 30*time.Second)
	if err != nil {
		if errors.Is(err, control.ErrNoDaemon) {
			return fmt.Errorf("run: %w", err)
		}
		return fmt.Errorf("run: refused: %w", err)
	}
	if resp.Job == nil {
		return errors.New("run: daemon returned no job")
	}
	if err := syscall.Exec(bin, argv, os.Environ()); err != nil {
		return fmt.Errorf("run: exec %s: %w", bin, err)
	}
	return nil
}
