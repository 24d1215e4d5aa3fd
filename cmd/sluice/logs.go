package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pkg/control"
)

const logsUsage = `usage: sluice logs [-f] [--event TYPE]... [--identity NAME] [--target NAME] [--since DURATION|DATE] [-n N] [--json]

Prints the audit events sluiced holds in memory (its most recent events),
then, with -f, every new one until interrupted. --event takes an event type
(db.query) or a prefix (db.*), and may be repeated or comma-separated.
Root and the users and groups of log.readers may read the events.
`

// logsFlags are the options of sluice logs.
type logsFlags struct {
	follow   bool
	events   eventList
	identity string
	target   string
	since    string
	last     int
	json     bool
}

// eventList is --event, repeated or comma-separated.
type eventList []string

func (e *eventList) String() string { return strings.Join(*e, ",") }

func (e *eventList) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*e = append(*e, v)
		}
	}
	return nil
}

// cmdLogs is `sluice logs`.
func cmdLogs(controlFlag string, args []string) error {
	return logs(os.Stdout, os.Stderr, control.SocketPath(controlFlag), args, time.Now())
}

func logs(w, errw io.Writer, sock string, args []string, now time.Time) error {
	var f logsFlags
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, logsUsage) }
	fs.BoolVar(&f.follow, "f", false, "follow: print new events as they come")
	fs.BoolVar(&f.follow, "follow", false, "same as -f")
	fs.Var(&f.events, "event", "only events of this type (db.query) or prefix (db.*)")
	fs.StringVar(&f.identity, "identity", "", "only events of this identity")
	fs.StringVar(&f.target, "target", "", "only events of this target")
	fs.StringVar(&f.since, "since", "", "only events since (10m, 24h, 2026-11-22T09:30:00Z)")
	fs.IntVar(&f.last, "n", -1, "only the last N events held (default: all; with -f, 10, and -n 0 prints only new events)")
	fs.BoolVar(&f.json, "json", false, "print the events as sluiced wrote them, one JSON object per line")
	if rest, err := parseArgs(fs, args); err != nil || len(rest) > 0 {
		fmt.Fprint(os.Stderr, logsUsage)
		return exitError{2}
	}
	lr := &control.LogsRequest{Follow: f.follow, Events: f.events, Identity: f.identity, Target: f.target}
	switch {
	case f.last >= 0:
		lr.Last = f.last
	case f.follow && f.since == "":
		lr.Last = 10
	}
	if f.since != "" {
		t, err := parseSince(f.since, now)
		if err != nil {
			return err
		}
		lr.Since = &t
	}

	ended := false
	err := control.Stream(sock, control.Request{Op: control.OpLogs, Logs: lr}, func(r control.Response) error {
		b := r.Logs
		if b == nil {
			return nil
		}
		if b.Oldest != nil && lr.Since != nil && lr.Since.Before(*b.Oldest) && !b.Complete {
			fmt.Fprintf(errw, "sluice logs: sluiced holds the events since %s only; older ones are in the journal or log.file\n",
				b.Oldest.UTC().Format(time.RFC3339))
		}
		if b.Dropped > 0 {
			fmt.Fprintf(errw, "sluice logs: %d events lost: this reader fell behind the event stream\n", b.Dropped)
		}
		for _, ev := range b.Events {
			var err error
			if f.json {
				_, err = fmt.Fprintf(w, "%s\n", ev)
			} else {
				_, err = fmt.Fprintln(w, eventLine(ev))
			}
			if err != nil {
				return err
			}
		}
		ended = b.End
		return nil
	})
	if errors.Is(err, control.ErrStreamEnded) {
		if ended {
			return nil
		}
		return fmt.Errorf("logs: %w", err)
	}
	return err
}

// shown lists, per event type, the fields a line shows after the time,
// the event, the identity and the target, in this order. Other events
// show their message, reason and error.
var shown = map[string][]string{
	"db.query":            {"decision", "kind", "policy", "rule", "statement", "rows", "sqlstate", "error", "note", "shadow_decision", "session"},
	"db.login":            {"user", "database", "auth", "outcome", "error", "session"},
	"db.cancel":           {"outcome", "cancelled_session", "reason", "session"},
	"connection.open":     {"pid", "comm", "uid", "dst", "session"},
	"connection.close":    {"pid", "comm", "dst", "bytes_up", "bytes_down", "duration_ms", "error", "session"},
	"connection.denied":   {"pid", "comm", "uid", "dst", "reason", "session"},
	"connection.rejected": {"src", "listener", "reason"},
	"approval.requested":  {"id", "policy", "rule", "statement", "session"},
	"approval.approved":   {"id", "approver", "grant", "reason"},
	"approval.denied":     {"id", "approver", "reason"},
	"record.failed":       {"op", "on_record_failure", "error", "session"},
}

// eventLine renders one event for a terminal: one line, control
// characters escaped.
func eventLine(line []byte) string {
	var ev map[string]any
	if err := json.Unmarshal(line, &ev); err != nil {
		return printable(string(line))
	}
	str := func(k string) string {
		switch v := ev[k].(type) {
		case nil:
			return ""
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		default:
			b, _ := json.Marshal(v)
			return string(b)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-20s", str("time"), str("event"))
	if id, t := str("identity"), str("target"); id != "" || t != "" {
		fmt.Fprintf(&b, " %s → %s", orDash(id), orDash(t))
	}
	keys, ok := shown[str("event")]
	if !ok {
		keys = []string{"message", "reason", "error"}
	}
	for _, k := range keys {
		v := str(k)
		if v == "" {
			continue
		}
		if k == "statement" {
			v = oneLine(v, 200)
		}
		if strings.ContainsAny(v, " \t\"") {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(&b, " %s=%s", k, v)
	}
	return printable(b.String())
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
