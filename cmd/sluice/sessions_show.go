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

	"github.com/sluicehq/sluice/pkg/record"
)

func sessionsShow(w io.Writer, args []string) error {
	fs := flag.NewFlagSet("sessions show", flag.ContinueOnError)
	var sf storeFlags
	sf.register(fs)
	identityFile := fs.String("identity-file", "", "age identity file, to read an encrypted recording")
	asJSON := fs.Bool("json", false, "print the header and each event as JSON, one per line")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		fmt.Fprint(os.Stderr, sessionsUsage)
		return exitError{2}
	}
	rd, f, path, err := openRecording(&sf, rest[0], *identityFile)
	if err != nil {
		return fmt.Errorf("sessions show: %w", err)
	}
	defer f.Close()
	if *asJSON {
		return showJSON(w, rd)
	}
	ts := newTermSafe(w) // a recording holds what the job sent
	defer ts.Flush()
	w = ts
	h := rd.Header()
	printHeader(w, h)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tEVENT\tDETAIL")
	var readErr error
	for {
		e, err := rd.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
		lines := describe(e)
		fmt.Fprintf(tw, "%d\t+%s\t%s\t%s\n", e.Seq, offset(e.Time.Sub(h.Started)), e.Kind, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(tw, "\t\t\t%s\n", l)
		}
	}
	tw.Flush()
	if h.Encrypted && !rd.Decrypting() {
		fmt.Fprintln(w, "\n(events are encrypted: give --identity-file to read them)")
	}
	if readErr != nil {
		return fmt.Errorf("sessions show: %s: %w", path, readErr)
	}
	return nil
}

func showJSON(w io.Writer, rd *record.Reader) error {
	enc := json.NewEncoder(w)
	if err := enc.Encode(struct {
		Kind   record.Kind    `json:"kind"`
		Header *record.Header `json:"header"`
	}{record.KindHeader, rd.Header()}); err != nil {
		return err
	}
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sessions show: %w", err)
		}
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
}

func printHeader(w io.Writer, h *record.Header) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("session", "%s", h.Session)
	row("protocol", "%s", h.Protocol)
	row("identity", "%s", dash(h.Identity)+identityNote(h.OIDC))
	if o := h.OIDC; o != nil {
		row("oidc", "subject %s", subjectText(o.Subject, o.Issuer))
		token := "expires " + utcText(o.Expires)
		if o.JTI != "" {
			token = "jti " + plainOrQuoted(o.JTI) + ", " + token
		}
		row("token", "%s", token)
		if len(o.Claims) > 0 {
			row("claims", "%s", claimsText(o.Claims))
		}
	}
	p := h.Process
	if p.PID != 0 || p.Exe != "" {
		row("process", "%s (pid %d, uid %d, gid %d) %s", dash(p.Comm), p.PID, p.UID, p.GID, p.Exe)
	}
	if p.Cgroup != "" {
		unit := ""
		if p.Unit != "" {
			unit = " (unit " + p.Unit + ")"
		}
		row("cgroup", "%s%s", p.Cgroup, unit)
	}
	row("target", "%s", strings.TrimSpace(dash(h.Target)+" "+h.Dst))
	if h.User != "" || h.Database != "" {
		row("upstream", "user %s, database %s", dash(h.User), dash(h.Database))
	}
	if h.PolicyVersion != "" {
		row("policy", "version %s", h.PolicyVersion)
	}
	row("host", "%s", dash(h.Host))
	row("started", "%s", h.Started.UTC().Format("2006-01-02 15:04:05.000000 UTC"))
	if h.Encrypted {
		row("encrypted", "to %s", strings.Join(h.Recipients, ", "))
	}
	tw.Flush()
}

// identityNote says where a session's identity came from, when a token
// gave it.
func identityNote(o *record.OIDC) string {
	switch {
	case o == nil:
		return ""
	case o.KernelIdentity != "":
		return " (OIDC token given as password; kernel identity " + plainOrQuoted(o.KernelIdentity) + ")"
	}
	return " (OIDC token of the job)"
}

// offset formats a time since the start of the session.
func offset(d time.Duration) string {
	return fmt.Sprintf("%.3fs", d.Seconds())
}

// describe renders an event for show: its first line, then more.
func describe(e *record.Entry) []string {
	if e.Data == nil {
		if e.Decision != "" {
			return []string{strings.ToUpper(e.Decision) + " (encrypted)"}
		}
		return []string{"(encrypted)"}
	}
	v, err := e.Decode()
	if err != nil {
		return []string{"(" + err.Error() + ")"}
	}
	switch ev := v.(type) {
	case *record.Login:
		s := fmt.Sprintf("user %s, database %s", dash(ev.User), dash(ev.Database))
		if ev.Auth != "" {
			s += ", auth " + ev.Auth
		}
		if ev.TLS {
			s += ", tls"
		}
		if ev.Error != "" {
			s += fmt.Sprintf(", failed: %s %s", ev.Code, ev.Error)
		}
		return []string{s}
	case *record.Statement:
		rule := ev.Policy
		if ev.Rule != "" {
			rule += "/" + ev.Rule
		}
		out := []string{fmt.Sprintf("%s  %s  %s  %s", strings.ToUpper(ev.Decision), dash(rule), dash(ev.Class), oneLine(ev.Text, 200))}
		if len(ev.Params) > 0 {
			out = append(out, "params: "+strings.Join(ev.Params, ", "))
		}
		if ev.Reason != "" {
			out = append(out, "reason: "+ev.Reason)
		}
		if ev.Approval != "" {
			out = append(out, "approval: "+ev.Approval)
		}
		return out
	case *record.Result:
		out := []string{resultLine(ev)}
		return append(out, sampleLines(ev.Sample)...)
	case *record.Cancel:
		return []string{fmt.Sprintf("session %s: %s %s", dash(ev.Session), ev.Outcome, ev.Error)}
	case *record.Approval:
		return []string{approvalLine(ev)}
	case *record.End:
		return []string{endLine(ev)}
	case *record.Raw:
		return []string{oneLine(string(ev.Data), 200)}
	}
	return []string{string(e.Data)}
}

// approvalLine renders an approval step: "approval abc... of statement 4
// granted (once) by alice (uid 1001) after 12.5s: reason".
func approvalLine(a *record.Approval) string {
	s := fmt.Sprintf("approval %s", a.ID)
	if a.Statement > 0 {
		s += fmt.Sprintf(" of statement %d", a.Statement)
	}
	s += " " + a.Status
	if a.Grant != "" {
		s += " (" + a.Grant + ")"
	}
	switch {
	case a.Approver != "" && a.ApproverUID != nil && a.Approver != fmt.Sprintf("uid %d", *a.ApproverUID):
		s += fmt.Sprintf(" by %s (uid %d)", a.Approver, *a.ApproverUID)
	case a.Approver != "":
		s += " by " + a.Approver
	}
	if a.HeldUS > 0 {
		s += " after " + (time.Duration(a.HeldUS) * time.Microsecond).String()
	}
	if a.Note != "" {
		s += ": " + a.Note
	}
	return s
}

func resultLine(r *record.Result) string {
	s := fmt.Sprintf("of statement %d", r.Statement)
	if r.HasRows {
		s += fmt.Sprintf(": %d rows", r.Rows)
	}
	s += " in " + r.Duration.String()
	if r.Error != "" {
		s += fmt.Sprintf(": ERROR %s %s", r.Code, r.Error)
	}
	if r.Note != "" {
		s += " (" + r.Note + ")"
	}
	return s
}

func endLine(e *record.End) string {
	s := fmt.Sprintf("%s: %d statements, %d denied, %d events", e.Reason, e.Statements, e.Denied, e.Events)
	if e.BytesUp > 0 || e.BytesDown > 0 {
		s += fmt.Sprintf(", %d bytes up, %d down", e.BytesUp, e.BytesDown)
	}
	if e.Error != "" {
		s += ": " + e.Error
	}
	if e.Cut > 0 {
		s += fmt.Sprintf(" (%d bytes of a partial last line removed)", e.Cut)
	}
	return s
}

// sampleLines renders a result sample as a small table.
func sampleLines(s *record.Sample) []string {
	if s == nil {
		return nil
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 1, ' ', 0)
	fmt.Fprintln(tw, strings.Join(s.Columns, "\t| "))
	for _, r := range s.Rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = oneLine(c, 40)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t| "))
	}
	tw.Flush()
	out := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if s.Cut {
		out = append(out, "(sample cut)")
	}
	return out
}

// oneLine flattens whitespace and bounds the length of a text.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		for n > 0 && s[n]&0xc0 == 0x80 {
			n--
		}
		s = s[:n] + "…"
	}
	return s
}
