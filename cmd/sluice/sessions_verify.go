package main

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/sluicehq/sluice/pkg/record"
)

func sessionsVerify(w io.Writer, args []string) error {
	fs := flag.NewFlagSet("sessions verify", flag.ContinueOnError)
	var sf storeFlags
	sf.register(fs)
	all := fs.Bool("all", false, "verify every recording and the head log (the default without ID)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pubFlag := fs.String("public-key", "", "host public key (ed25519:...) or a file holding it; default: the host key's .pub file")
	logHead := fs.String("log-head", "", "a head log tree head recorded earlier, SIZE:ROOT (hex); the log must extend it")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 1 || len(rest) == 1 && *all {
		fmt.Fprint(os.Stderr, sessionsUsage)
		return exitError{2}
	}
	dir, pubFile, err := sf.resolve()
	if err != nil {
		return fmt.Errorf("sessions verify: %w", err)
	}
	pub, err := readPublicKey(*pubFlag, pubFile)
	if err != nil {
		return fmt.Errorf("sessions verify: %w", err)
	}
	opts := record.VerifyOptions{PublicKey: pub}
	if len(rest) == 1 {
		opts.Session = rest[0]
	}
	if *logHead != "" {
		size, root, ok := strings.Cut(*logHead, ":")
		n, err := strconv.ParseInt(size, 10, 64)
		b, herr := hex.DecodeString(root)
		if !ok || err != nil || herr != nil || n <= 0 || len(b) != len(opts.TrustedRoot) {
			fmt.Fprintln(os.Stderr, "sluice: --log-head: write SIZE:ROOT, as printed by verify (the root in hex)")
			return exitError{2}
		}
		opts.TrustedSize = n
		copy(opts.TrustedRoot[:], b)
	}
	rep, err := record.Verify(dir, opts)
	if err != nil {
		return fmt.Errorf("sessions verify: %w", err)
	}
	if *asJSON {
		if rep.Problems == nil {
			rep.Problems = []record.Problem{}
		}
		if rep.Recordings == nil {
			rep.Recordings = []record.Checked{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(w, rep, pub.ID())
	}
	if len(rep.Problems) > 0 {
		return exitError{1}
	}
	return nil
}

func printReport(w io.Writer, rep *record.Report, keyID string) {
	bad := map[string]bool{}
	for _, p := range rep.Problems {
		bad[p.File] = true
	}
	counts := map[string]int{}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range rep.Recordings {
		counts[c.State]++
		detail := fmt.Sprintf("%d events", c.Events)
		if c.Index >= 0 {
			detail += fmt.Sprintf(", head log record %d", c.Index)
		}
		if c.State == record.StateOpen || c.State == record.StateUnlogged {
			detail = "not in the head log"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.State, c.Session, c.File, detail)
	}
	tw.Flush()
	for _, p := range rep.Problems {
		fmt.Fprintln(w, "FAILED  "+p.String())
	}
	fmt.Fprintf(w, "head log: %d records, root %s, host key %s\n", rep.Log.Size, rep.Log.Root, keyID)
	fmt.Fprintf(w, "%d recordings: %d ok, %d open, %d expired; %d problems\n", len(rep.Recordings),
		counts[record.StateOK], counts[record.StateOpen], counts[record.StateExpired], len(rep.Problems))
}
