package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/record"
)

// sleep waits during a replay; tests replace it.
var sleep = time.Sleep

// cmdReplay prints a recorded session as it happened, with its timing.
func cmdReplay(w io.Writer, args []string) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	var sf storeFlags
	sf.register(fs)
	speed := fs.Float64("speed", 1, "replay speed: 2 is twice as fast, 0 prints without waiting")
	maxWait := fs.String("max-wait", "0", "longest pause between two events (0: as recorded)")
	identityFile := fs.String("identity-file", "", "age identity file, to read an encrypted recording")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	capWait, werr := config.ParseDuration(*maxWait)
	if len(rest) != 1 || *speed < 0 || werr != nil {
		fmt.Fprint(os.Stderr, sessionsUsage)
		return exitError{2}
	}
	rd, f, path, err := openRecording(&sf, rest[0], *identityFile)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	ts := newTermSafe(w) // a recording holds what the job sent
	defer ts.Flush()
	w = ts
	h := rd.Header()
	if h.Encrypted && !rd.Decrypting() {
		return fmt.Errorf("replay: %s is encrypted: give --identity-file with the age identity of one of its recipients (%s)",
			path, strings.Join(h.Recipients, ", "))
	}
	fmt.Fprintf(w, "-- session %s: %s -> %s", h.Session, dash(h.Identity), dash(h.Target))
	if h.User != "" || h.Database != "" {
		fmt.Fprintf(w, " (user %s, database %s)", dash(h.User), dash(h.Database))
	}
	fmt.Fprintf(w, ", %s on %s\n", h.Started.UTC().Format("2006-01-02 15:04:05 UTC"), dash(h.Host))
	if o := h.OIDC; o != nil {
		line := "-- oidc: subject " + subjectText(o.Subject, o.Issuer)
		if o.JTI != "" {
			line += ", jti " + plainOrQuoted(o.JTI)
		}
		line += ", expires " + utcText(o.Expires)
		if len(o.Claims) > 0 {
			line += "; claims " + claimsText(o.Claims)
		}
		if o.KernelIdentity != "" {
			line += "; token given as password by kernel identity " + plainOrQuoted(o.KernelIdentity)
		}
		fmt.Fprintln(w, line)
	}
	last := h.Started
	prompt := h.Database
	if prompt == "" {
		prompt = h.Target
	}
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("replay: %s: %w", path, err)
		}
		if *speed > 0 && e.Time.After(last) {
			d := time.Duration(float64(e.Time.Sub(last)) / *speed)
			if capWait > 0 && d > capWait {
				d = capWait
			}
			sleep(d)
		}
		last = e.Time
		stamp := "[" + clockOffset(e.Time.Sub(h.Started)) + "] "
		for i, l := range replayLines(e, prompt) {
			if i > 0 {
				stamp = strings.Repeat(" ", len(stamp))
			}
			fmt.Fprintln(w, stamp+l)
		}
	}
	if rd.End() == nil {
		fmt.Fprintln(w, "-- (the recording has no end: the session is still open, or sluiced stopped before sealing it)")
	}
	return nil
}

// clockOffset formats a time since the start as mm:ss.mmm (hh:mm:ss.mmm
// past an hour).
func clockOffset(d time.Duration) string {
	ms := d.Milliseconds()
	h, m, s, frac := ms/3600000, ms/60000%60, ms/1000%60, ms%1000
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d.%03d", h, m, s, frac)
	}
	return fmt.Sprintf("%02d:%02d.%03d", m, s, frac)
}

// replayLines renders an event as a terminal transcript.
func replayLines(e *record.Entry, prompt string) []string {
	v, err := e.Decode()
	if err != nil {
		return []string{"(" + err.Error() + ")"}
	}
	indent := strings.Repeat(" ", len(prompt)+3)
	switch ev := v.(type) {
	case *record.Login:
		if ev.Error != "" {
			return []string{fmt.Sprintf("-- login as %s to %s failed: %s %s", dash(ev.User), dash(ev.Database), ev.Code, ev.Error)}
		}
		return []string{fmt.Sprintf("-- logged in as %s to %s", dash(ev.User), dash(ev.Database))}
	case *record.Statement:
		text := strings.TrimRight(ev.Text, " \t\r\n;") + ";"
		out := strings.Split(text, "\n")
		out[0] = prompt + "=> " + out[0]
		for i := 1; i < len(out); i++ {
			out[i] = indent + out[i]
		}
		if len(ev.Params) > 0 {
			out = append(out, indent+"-- params: "+strings.Join(ev.Params, ", "))
		}
		if ev.Decision != record.DecisionAllow {
			msg := fmt.Sprintf("-- %s by policy %s rule %s", strings.ToUpper(ev.Decision), dash(ev.Policy), dash(ev.Rule))
			if ev.Reason != "" {
				msg += ": " + ev.Reason
			}
			out = append(out, indent+msg)
		}
		return out
	case *record.Result:
		var out []string
		if ev.Sample != nil {
			for _, l := range sampleLines(ev.Sample) {
				out = append(out, indent+l)
			}
		}
		switch {
		case ev.Error != "":
			out = append(out, fmt.Sprintf("%sERROR:  %s (SQLSTATE %s)", indent, ev.Error, ev.Code))
		case ev.HasRows:
			out = append(out, fmt.Sprintf("%s(%d rows, %s)", indent, ev.Rows, ev.Duration))
		default:
			out = append(out, fmt.Sprintf("%s(%s)", indent, ev.Duration))
		}
		if ev.Note != "" {
			out = append(out, indent+"-- "+ev.Note)
		}
		return out
	case *record.Approval:
		return []string{"-- " + approvalLine(ev)}
	case *record.End:
		return []string{"-- end: " + endLine(ev)}
	}
	return []string{fmt.Sprintf("-- %s %s", e.Kind, strings.Join(describe(e), " "))}
}
