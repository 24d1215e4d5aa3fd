package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/pkg/control"
)

func cmdStatus(controlFlag string, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	resp, err := control.Call(control.SocketPath(controlFlag), control.Request{Op: control.OpStatus}, 10*time.Second)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	st := resp.Status
	if st == nil {
		return fmt.Errorf("status: daemon returned no status")
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(st)
	return nil
}

// printSessions writes the sessions each identity holds against its
// max_sessions, when any identity has sessions open or a bound.
func printSessions(out io.Writer, st *control.Status) {
	if len(st.Sessions) == 0 {
		return
	}
	fmt.Fprintln(out, "\nsessions by identity:")
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, s := range st.Sessions {
		fmt.Fprintf(w, "  %s\t%d open\tmax_sessions %s\n", s.Identity, s.Open, bound(s.Max))
	}
	w.Flush()
}

// bound renders a max_sessions value.
func bound(n uint32) string {
	if n == 0 {
		return "none"
	}
	return strconv.FormatUint(uint64(n), 10)
}

func printStatus(st *control.Status) {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "sluiced\t%s (pid %d, up %s)\n", st.Version, st.PID, time.Since(st.Started).Round(time.Second))
	fmt.Fprintf(w, "config\t%s\n", st.Config)
	fmt.Fprintf(w, "cgroup root\t%s\n", st.CgroupRoot)
	pins := "not pinned (programs detach when sluiced stops)"
	if st.PinDir != "" {
		pins = st.PinDir
		if st.Adopted {
			pins += " (adopted from an earlier run)"
		}
	}
	fmt.Fprintf(w, "fail mode\t%s\n", st.FailMode)
	fmt.Fprintf(w, "pins\t%s\n", pins)
	fmt.Fprintf(w, "listeners\t%s\n", strings.Join(st.Listeners, ", "))
	fmt.Fprintf(w, "active connections\t%d\n", st.Active)
	fmt.Fprintf(w, "max_sessions\t%s\n", bound(st.MaxSessions))
	if r := st.Recording; r != nil {
		fmt.Fprintf(w, "host key\t%s (id %s)\n", r.HostKey, r.HostKeyID)
		if r.LogSize == 0 {
			fmt.Fprintf(w, "head log\tempty (no recording closed yet)\n")
		} else {
			fmt.Fprintf(w, "head log\t%d:%s (for sluice sessions verify --log-head)\n", r.LogSize, r.LogRoot)
		}
		enc := "no"
		if r.Encrypted {
			enc = "yes (age)"
		}
		fmt.Fprintf(w, "recordings encrypted\t%s\n", enc)
	} else {
		fmt.Fprintf(w, "recording\toff (recording.enabled: false)\n")
	}
	w.Flush()

	printSessions(os.Stdout, st)

	fmt.Println("\nprograms:")
	w = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	for _, p := range st.Programs {
		fmt.Fprintf(w, "  %s\t%s\tlink %d\n", p.Name, p.Attach, p.LinkID)
	}
	w.Flush()

	fmt.Println("\ntagged cgroups:")
	w = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	if len(st.Tagged) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, t := range st.Tagged {
		ident := t.Identity
		if ident == "" {
			ident = "(unknown identity: connections denied)"
		}
		cg := t.Cgroup
		if cg == "" {
			cg = fmt.Sprintf("(id %d, outside cgroup_root)", t.CgroupID)
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\n", cg, ident, t.Source)
	}
	for _, u := range st.TaggedUIDs {
		fmt.Fprintf(w, "  uid %d\t%s\tconfig\n", u.UID, u.Identity)
	}
	w.Flush()

	printBindings(os.Stdout, st, time.Now())

	fmt.Println("\nmaps:")
	w = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	names := make([]string, 0, len(st.Maps))
	for n := range st.Maps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := st.Maps[n]
		fmt.Fprintf(w, "  %s\t%d / %d\n", n, m.Entries, m.Capacity)
	}
	w.Flush()

	fmt.Println("\nkernel counters:")
	w = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	names = names[:0]
	for n := range st.Connections {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %s\t%d\n", n, st.Connections[n])
	}
	w.Flush()
}

// printBindings prints the jobs bound to OIDC tokens, then what their
// tokens said when the daemon shows it to the caller.
func printBindings(out io.Writer, st *control.Status, now time.Time) {
	fmt.Fprintln(out, "\nOIDC-bound jobs:")
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if len(st.Bindings) == 0 {
		fmt.Fprintln(w, "  (none)")
	} else {
		fmt.Fprintln(w, "  JOB\tIDENTITY\tEXPIRES\tSESSIONS")
	}
	for _, b := range st.Bindings {
		note := ""
		if b.Restored {
			note = "  (restored at start)"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s (%s)\t%d%s\n", b.Cgroup, b.Identity, utcText(b.Expires), untilText(b.Expires, now), b.Sessions, note)
	}
	w.Flush()
	if len(st.Bindings) == 0 {
		return
	}
	if !st.BindingDetails {
		fmt.Fprintln(out, "  (issuers, subjects, jtis and claims are shown to root, log readers and approvers)")
		return
	}
	fmt.Fprintln(out, "\nOIDC tokens of the jobs:")
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, b := range st.Bindings {
		fmt.Fprintf(w, "  %s\tsubject %s\n", b.Cgroup, subjectText(b.Subject, b.Issuer))
		if b.JTI != "" {
			fmt.Fprintf(w, "  \tjti %s\n", plainOrQuoted(b.JTI))
		}
		if len(b.Claims) > 0 {
			fmt.Fprintf(w, "  \tclaims %s\n", claimsText(b.Claims))
		}
	}
	w.Flush()
}

// cmdReload asks the daemon to reload its configuration. The outcome is in
// the event stream (config.reloaded or config.reload_failed).
func cmdReload(controlFlag string, args []string) error {
	if len(args) != 0 {
		fmt.Fprintln(os.Stderr, "usage: sluice reload")
		return exitError{2}
	}
	if _, err := control.Call(control.SocketPath(controlFlag), control.Request{Op: control.OpReload}, 30*time.Second); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	fmt.Println("reload requested; see the config.reloaded or config.reload_failed event")
	return nil
}
