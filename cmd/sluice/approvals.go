package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/pkg/control"
)

const approvalsUsage = `usage:
  sluice approvals list [--json]     the open approval requests
  sluice approvals watch [--json]    the open requests, then every change, until interrupted
  sluice approve ID [--once | --for DURATION] [--reason TEXT]
  sluice deny ID --reason TEXT
`

// approvalCallTimeout bounds list, approve and deny.
const approvalCallTimeout = 10 * time.Second

// cmdApprovals is `sluice approvals list|watch`.
func cmdApprovals(controlFlag string, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, approvalsUsage)
		return exitError{2}
	}
	sock := control.SocketPath(controlFlag)
	switch args[0] {
	case "list":
		return approvalsList(os.Stdout, sock, args[1:])
	case "watch":
		return approvalsWatch(os.Stdout, sock, args[1:])
	case "help", "-h", "--help":
		fmt.Print(approvalsUsage)
		return nil
	}
	fmt.Fprintf(os.Stderr, "sluice approvals: unknown command %q\n\n%s", args[0], approvalsUsage)
	return exitError{2}
}

func approvalsList(w io.Writer, sock string, args []string) error {
	fs := flag.NewFlagSet("approvals list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the requests as JSON")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return exitError{2}
	}
	resp, err := control.Call(sock, control.Request{Op: control.OpApprovals}, approvalCallTimeout)
	if err != nil {
		return err // "approvals: ..." from the daemon
	}
	list := resp.Approvals
	if list == nil {
		list = []control.Approval{}
	}
	if *asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(list)
	}
	if len(list) == 0 {
		fmt.Fprintln(w, "no approval requests are open")
		return nil
	}
	now := time.Now()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tAGE\tIDENTITY\tTARGET\tUID\tPROCESS\tRULE\tSTATEMENT")
	for _, a := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", a.ID, listState(a, now),
			now.Sub(a.Requested).Round(time.Second), a.Identity, a.Target, a.UID, process(a),
			a.Policy+"/"+a.Rule, printable(oneLine(a.Statement, 60)))
	}
	tw.Flush()
	fmt.Fprintln(w, "\napprove: sluice approve ID [--for 30m]   deny: sluice deny ID --reason TEXT")
	return nil
}

// listState is the STATE column: how long a waiting request has left.
func listState(a control.Approval, now time.Time) string {
	switch a.State {
	case "waiting":
		return fmt.Sprintf("waiting (%s left)", max(0, a.Deadline.Sub(now)).Round(time.Second))
	case "timeout":
		return "timed out"
	}
	return a.State
}

func process(a control.Approval) string {
	name := a.Comm
	if a.Exe != "" {
		name = a.Exe
	}
	return fmt.Sprintf("%s (pid %d)", printable(name), a.PID)
}

// printable escapes control characters: a statement, a command name or a
// reason comes from a job or a user and must not drive the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unsafeRune(r) || r == '\n' || r == '\t' {
			return '?'
		}
		return r
	}, s)
}

func approvalsWatch(w io.Writer, sock string, args []string) error {
	fs := flag.NewFlagSet("approvals watch", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print each change as a JSON line")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return exitError{2}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	err := control.Stream(sock, control.Request{Op: control.OpApprovalsWatch}, func(r control.Response) error {
		if r.Approval == nil {
			return nil
		}
		if *asJSON {
			return enc.Encode(struct {
				Change   string            `json:"change"`
				Approval *control.Approval `json:"approval"`
			}{r.Change, r.Approval})
		}
		_, err := fmt.Fprintln(w, watchLine(r.Change, r.Approval, time.Now()))
		return err
	})
	if errors.Is(err, control.ErrStreamEnded) {
		return fmt.Errorf("approvals watch: %w", err)
	}
	return err
}

// watchLine describes one change for a terminal.
func watchLine(change string, a *control.Approval, now time.Time) string {
	who := fmt.Sprintf("%s  %-9s  %s  %s@%s  uid %d", now.Format("15:04:05"), change, a.ID, a.Identity, a.Target, a.UID)
	switch change {
	case "open", "requested":
		return fmt.Sprintf("%s  %s  [%s]  %s", who, process(*a), listState(*a, now), printable(oneLine(a.Statement, 80)))
	case "approved":
		how := "once"
		if a.Grant != nil && a.Grant.Mode == "for" {
			how = "until " + a.Grant.Expires.Local().Format("15:04:05")
		}
		if a.ReleasedBy != "" {
			how += ", released by the approval of " + a.ReleasedBy
		}
		return fmt.Sprintf("%s  by %s, %s%s", who, approverName(a.Approver), how, reasonSuffix(a.Reason))
	case "denied":
		return fmt.Sprintf("%s  by %s%s", who, approverName(a.Approver), reasonSuffix(a.Reason))
	case "timeout":
		return who + "  no decision in time; still open (sluice approve " + a.ID + ")"
	case "withdrawn":
		return who + "  the client gave up waiting; still open (sluice approve " + a.ID + ")"
	}
	return who
}

func approverName(a *control.Approver) string {
	switch {
	case a == nil:
		return "?"
	case a.Name != "":
		return fmt.Sprintf("%s (uid %d)", a.Name, a.UID)
	}
	return fmt.Sprintf("uid %d", a.UID)
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + printable(oneLine(r, 200))
}

// cmdApprove is `sluice approve ID [--once | --for D] [--reason TEXT]`.
func cmdApprove(controlFlag string, args []string) error {
	return approve(os.Stdout, control.SocketPath(controlFlag), args)
}

func approve(w io.Writer, sock string, args []string) error {
	fs := flag.NewFlagSet("approve", flag.ContinueOnError)
	once := fs.Bool("once", false, "let exactly this statement run, once (the default)")
	window := fs.Duration("for", 0, "let statements of this shape, from this identity to this target, run for `DURATION` (at most 24h)")
	reason := fs.String("reason", "", "why (recorded with the decision)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: sluice approve ID [--once | --for DURATION] [--reason TEXT]\n")
	}
	id, err := parseWithID(fs, args)
	if err != nil {
		return exitError{2}
	}
	if *once && *window != 0 {
		fmt.Fprintln(os.Stderr, "sluice approve: --once and --for cannot both be given")
		return exitError{2}
	}
	forSet := false
	fs.Visit(func(f *flag.Flag) { forSet = forSet || f.Name == "for" })
	if forSet && *window <= 0 {
		fmt.Fprintln(os.Stderr, "sluice approve: --for must be positive")
		return exitError{2}
	}
	req := control.Request{Op: control.OpApprove, ID: id, Reason: *reason}
	if *window > 0 {
		req.For = window.String()
	}
	resp, err := control.Call(sock, req, approvalCallTimeout)
	if err != nil {
		return err // "approve: ..." from the daemon
	}
	a := resp.Approval
	if a == nil {
		return errors.New("approve: the daemon returned no request")
	}
	switch {
	case a.Grant != nil && a.Grant.Mode == "for":
		fmt.Fprintf(w, "approved %s for %s (until %s): statements of this shape from %s on %s run until then\n",
			a.ID, durationText(*window), a.Grant.Expires.Local().Format("2006-01-02 15:04:05 MST"), a.Identity, a.Target)
		if a.Held {
			fmt.Fprintln(w, "the held statement runs now")
		}
		if n := len(a.Released); n > 0 {
			fmt.Fprintf(w, "%d other held statement(s) of the same shape run now: %s\n", n, strings.Join(a.Released, ", "))
		}
	case a.Held:
		fmt.Fprintf(w, "approved %s once: the held statement runs now\n", a.ID)
	default:
		until := ""
		if a.Grant != nil {
			until = " (until " + a.Grant.Expires.Local().Format("2006-01-02 15:04:05 MST") + ")"
		}
		fmt.Fprintf(w, "approved %s once: the statement runs the next time %s sends it to %s%s\n", a.ID, a.Identity, a.Target, until)
	}
	return nil
}

// cmdDeny is `sluice deny ID --reason TEXT`.
func cmdDeny(controlFlag string, args []string) error {
	return deny(os.Stdout, control.SocketPath(controlFlag), args)
}

func deny(w io.Writer, sock string, args []string) error {
	fs := flag.NewFlagSet("deny", flag.ContinueOnError)
	reason := fs.String("reason", "", "why (required; the client's error carries it)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), "usage: sluice deny ID --reason TEXT\n") }
	id, err := parseWithID(fs, args)
	if err != nil {
		return exitError{2}
	}
	if strings.TrimSpace(*reason) == "" {
		fmt.Fprintln(os.Stderr, "sluice deny: --reason is required")
		return exitError{2}
	}
	resp, err := control.Call(sock, control.Request{Op: control.OpDeny, ID: id, Reason: *reason}, approvalCallTimeout)
	if err != nil {
		return err // "deny: ..." from the daemon
	}
	a := resp.Approval
	if a == nil {
		return errors.New("deny: the daemon returned no request")
	}
	if a.Held {
		fmt.Fprintf(w, "denied %s: the held statement was refused\n", a.ID)
	} else {
		fmt.Fprintf(w, "denied %s: it can no longer be approved\n", a.ID)
	}
	return nil
}

// durationText prints 30m rather than 30m0s.
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// parseWithID parses flags written before or after the one argument, the
// request id.
func parseWithID(fs *flag.FlagSet, args []string) (string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", errors.New("one request id")
	}
	return pos[0], nil
}
