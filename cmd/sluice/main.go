// Command sluice is the command-line client of sluiced: run a job under an
// identity, show the daemon's status, check the host, remove the programs.
package main

import (
	"errors"
	"fmt"
	"os"
)

const usage = `usage: sluice [--control PATH] COMMAND [ARGS]

commands:
  run --identity NAME -- CMD [ARGS...]   run CMD under an identity (its connections go through sluice)
  run --oidc-token-file PATH -- CMD      run CMD under the identity an OIDC token maps to, until it expires
  run --refresh --oidc-token-file PATH   give the job this runs in a newer token (also --oidc-token-env VAR)
  status [--json]                        programs, pins, tagged cgroups, listeners, counters
  doctor                                 check that this host can run sluiced
  reload                                 reload the daemon's configuration (as SIGHUP does)
  detach [--config PATH | --pin-dir DIR] remove the programs and pins (stops the daemon if it runs)
  sessions list|show|verify [ARGS]       list, show and verify session recordings (sluice sessions help)
  replay ID [--speed N]                  print a recorded session as it happened, with its timing
  policy check|test|explain ...          check, test and explain policies offline (sluice policy help)
  logs [-f] [--event T] [--identity X] [--since D] [--json]  the audit events, and with -f every new one
  approvals list|watch [--json]          the statements held for approval (sluice approvals help)
  approve ID [--once | --for D] [--reason TEXT]  let a held statement run, once or for a window
  deny ID --reason TEXT                  refuse a held statement
  version                                print the version

The daemon is reached at /run/sluice/control.sock unless --control or
$SLUICE_CONTROL says otherwise.
`

// exitError carries a process exit code.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	err := run(os.Args[1:])
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	control := ""
	for len(args) > 0 {
		switch {
		case args[0] == "--control" && len(args) > 1:
			control, args = args[1], args[2:]
			continue
		case len(args[0]) > 10 && args[0][:10] == "--control=":
			control, args = args[0][10:], args[1:]
			continue
		}
		break
	}
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return exitError{2}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(control, rest)
	case "status":
		return cmdStatus(control, rest)
	case "doctor":
		return cmdDoctor(rest)
	case "detach":
		return cmdDetach(control, rest)
	case "reload":
		return cmdReload(control, rest)
	case "sessions":
		return cmdSessions(rest)
	case "replay":
		return cmdReplay(os.Stdout, rest)
	case "policy":
		return cmdPolicy(rest)
	case "logs":
		return cmdLogs(control, rest)
	case "approvals":
		return cmdApprovals(control, rest)
	case "approve":
		return cmdApprove(control, rest)
	case "deny":
		return cmdDeny(control, rest)
	case "version", "--version":
		fmt.Println("sluice", version)
		return nil
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprintf(os.Stderr, "sluice: unknown command %q\n\n%s", cmd, usage)
	return exitError{2}
}
