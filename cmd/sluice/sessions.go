package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/record"
	"github.com/sluicehq/sluice/pkg/record/hostkey"
)

const sessionsUsage = `usage: sluice sessions list [--identity NAME] [--target NAME] [--since DURATION|DATE] [--denied] [--json]
       sluice sessions show ID [--identity-file FILE] [--json]
       sluice sessions verify [ID | --all] [--json] [--public-key KEY|FILE] [--log-head SIZE:ROOT]
       sluice replay ID [--speed N] [--max-wait DURATION] [--identity-file FILE]

The store is found through --state-dir DIR, or the state_dir of the
configuration (--config FILE, default /etc/sluice/sluice.yaml).
`

// cmdSessions runs `sluice sessions SUBCOMMAND`.
func cmdSessions(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, sessionsUsage)
		return exitError{2}
	}
	switch args[0] {
	case "list":
		return sessionsList(os.Stdout, args[1:])
	case "show":
		return sessionsShow(os.Stdout, args[1:])
	case "verify":
		return sessionsVerify(os.Stdout, args[1:])
	case "help", "-h", "--help":
		fmt.Print(sessionsUsage)
		return nil
	}
	fmt.Fprintf(os.Stderr, "sluice: unknown sessions command %q\n\n%s", args[0], sessionsUsage)
	return exitError{2}
}

// storeFlags locate the store and its host key.
type storeFlags struct {
	config   string
	stateDir string
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.config, "config", config.DefaultPath, "configuration file (for state_dir and recording.host_key)")
	fs.StringVar(&s.stateDir, "state-dir", "", "state directory (overrides the configuration)")
}

// resolve returns the store directory and the host public key file.
func (s *storeFlags) resolve() (dir, pubFile string, err error) {
	if s.stateDir != "" {
		return record.StoreDir(s.stateDir), filepath.Join(s.stateDir, config.DefaultHostKeyName+".pub"), nil
	}
	cfg, err := config.Load(s.config)
	if err != nil {
		return "", "", fmt.Errorf("%w (give --state-dir to name the state directory)", err)
	}
	return record.StoreDir(cfg.StateDir), cfg.Recording.HostKey + ".pub", nil
}

// parseArgs parses flags wherever they are among the arguments and
// returns the others.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(os.Stderr)
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, exitError{2}
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

// parseSince reads --since: a duration back from now (24h, 7d) or a date
// or time (2026-11-22, 2026-11-22T09:30:00Z).
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := config.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: write a duration (24h, 7d) or a UTC date or time (2026-11-22, 2026-11-22T09:30:00Z)", s)
}

func sessionsList(w io.Writer, args []string) error {
	fs := flag.NewFlagSet("sessions list", flag.ContinueOnError)
	var sf storeFlags
	sf.register(fs)
	identity := fs.String("identity", "", "only sessions of this identity")
	target := fs.String("target", "", "only sessions to this target")
	since := fs.String("since", "", "only sessions started since (24h, 7d, 2026-11-22)")
	denied := fs.Bool("denied", false, "only sessions with a denied statement")
	asJSON := fs.Bool("json", false, "print JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		fmt.Fprint(os.Stderr, sessionsUsage)
		return exitError{2}
	}
	f := record.Filter{Identity: *identity, Target: *target, Denied: *denied}
	if *since != "" {
		if f.Since, err = parseSince(*since, time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, "sluice:", err)
			return exitError{2}
		}
	}
	dir, _, err := sf.resolve()
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	infos, err := record.List(dir, f)
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	if *asJSON {
		if infos == nil {
			infos = []record.Info{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}
	ts := newTermSafe(w)
	printList(ts, infos)
	return ts.Flush()
}

func printList(w io.Writer, infos []record.Info) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tSTARTED (UTC)\tDURATION\tIDENTITY\tTARGET\tSTATEMENTS\tDENIED\tEND")
	for _, in := range infos {
		dur, end := "-", in.Reason
		if !in.Ended.IsZero() {
			dur = in.Ended.Sub(in.Started).Round(time.Millisecond).String()
		}
		switch {
		case in.Error != "":
			end = "unreadable: " + in.Error
		case in.Open:
			end = "open"
		}
		if in.Encrypted {
			end += " (encrypted)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", in.Session, in.Started.UTC().Format("2006-01-02 15:04:05"),
			dur, dash(in.Identity), dash(in.Target), in.Statements, in.Denied, end)
	}
	tw.Flush()
	if len(infos) == 0 {
		fmt.Fprintln(w, "(no recordings)")
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// openRecording finds a recording by session id (or file path) and opens
// it for reading, with the identities of --identity-file.
func openRecording(sf *storeFlags, id, identityFile string) (*record.Reader, *os.File, string, error) {
	var path string
	if strings.ContainsRune(id, '/') || strings.HasSuffix(id, ".jsonl") {
		path = id
	} else {
		dir, _, err := sf.resolve()
		if err != nil {
			return nil, nil, "", err
		}
		rel, err := record.Find(dir, id)
		if err != nil {
			return nil, nil, "", err
		}
		path = filepath.Join(dir, rel)
	}
	var opts record.ReadOptions
	if identityFile != "" {
		f, err := os.Open(identityFile)
		if err != nil {
			return nil, nil, "", err
		}
		ids, err := record.ReadIdentities(f)
		f.Close()
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s: %w", identityFile, err)
		}
		opts.Identities = ids
	}
	rd, f, err := record.OpenFile(path, opts)
	if err != nil {
		return nil, nil, "", err
	}
	return rd, f, path, nil
}

// readPublicKey reads --public-key (the key's text or a file holding it)
// or, without it, the host key's .pub file.
func readPublicKey(flagValue, pubFile string) (hostkey.Public, error) {
	if strings.HasPrefix(flagValue, "ed25519:") {
		return hostkey.ParsePublic(flagValue)
	}
	if flagValue != "" {
		pubFile = flagValue
	}
	p, err := hostkey.ReadPublic(pubFile)
	if err != nil {
		return hostkey.Public{}, fmt.Errorf("%w (give --public-key ed25519:... or a file)", err)
	}
	return p, nil
}
