package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pkg/claims"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/policy/explain"
	"github.com/sluicehq/sluice/pkg/policy/lint"
	"github.com/sluicehq/sluice/pkg/policy/offline"
	"github.com/sluicehq/sluice/pkg/policy/policytest"
)

const policyUsage = `usage: sluice policy COMMAND [FLAGS]

commands:
  check [--config FILE] [--strict] [DIR]   decode the policies, cross-check them with the configuration, warn on
                                           rules that never match, masking never applied and identities no
                                           policy decides for
  test [--config FILE] [-v] [DIR]          run the policy tests (*_test.yaml) of DIR against its policies
  explain [--config FILE] [--policies DIR] --identity NAME --target NAME --sql SQL [--json]
          [--search-path a,b] [--time RFC3339] [--uid N] [--gid N] [--pid N] [--exe PATH] [--comm NAME]
          [--unit UNIT] [--cgroup PATH]
                                           show how the policies decide a query, statement by statement,
                                           and how its results are masked

DIR defaults to the policies directory of --config. explain reads --config
(default /etc/sluice/sluice.yaml) and its policies directory.

exit status: 0 ok; 1 errors, failed tests; 2 usage; 3 check --strict found warnings.
`

// exitWarnings is the exit status of `policy check --strict` with warnings.
const exitWarnings = 3

// policyIO are the streams of the policy commands.
type policyIO struct {
	in       io.Reader
	out, err io.Writer
}

// cmdPolicy runs `sluice policy`.
func cmdPolicy(args []string) error {
	return runPolicy(args, policyIO{os.Stdin, os.Stdout, os.Stderr})
}

func runPolicy(args []string, pio policyIO) error {
	if len(args) == 0 {
		fmt.Fprint(pio.err, policyUsage)
		return exitError{2}
	}
	switch args[0] {
	case "check":
		return policyCheck(args[1:], pio)
	case "test":
		return policyTest(args[1:], pio)
	case "explain":
		return policyExplain(args[1:], pio)
	case "help", "-h", "--help":
		fmt.Fprint(pio.out, policyUsage)
		return nil
	}
	fmt.Fprintf(pio.err, "sluice: policy: unknown command %q\n\n%s", args[0], policyUsage)
	return exitError{2}
}

// parseFlags parses flags and positional arguments in any order.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// policyDir returns the one positional DIR, or the configuration's
// policies directory.
func policyDir(pos []string, cfg *config.Config) (string, bool) {
	switch {
	case len(pos) == 1:
		return pos[0], true
	case len(pos) == 0 && cfg != nil:
		return cfg.PoliciesDir, true
	}
	return "", false
}

// loadConfig loads the configuration at path; "" is no configuration.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return nil, nil
	}
	return config.Load(path)
}

// printErrors prints every error joined in err, one per line.
func printErrors(w io.Writer, err error) int {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		fmt.Fprintln(w, e)
	}
	return len(errs)
}

func policyCheck(args []string, pio policyIO) error {
	fs := flag.NewFlagSet("policy check", flag.ContinueOnError)
	fs.SetOutput(pio.err)
	cfgPath := fs.String("config", "", "configuration file to check names against")
	strict := fs.Bool("strict", false, "exit with status 3 when there are warnings")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitError{2}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		printErrors(pio.out, err)
		return exitError{1}
	}
	dir, ok := policyDir(pos, cfg)
	if !ok {
		fmt.Fprint(pio.err, "usage: sluice policy check [--config FILE] [--strict] DIR\n")
		return exitError{2}
	}
	set, err := offline.New(cfg).LoadPolicies(dir)
	if err != nil {
		n := printErrors(pio.out, err)
		fmt.Fprintf(pio.out, "%s: %s\n", dir, plural(n, "error"))
		return exitError{1}
	}
	findings := lint.Check(set, cfg, *cfgPath)
	for _, f := range findings {
		fmt.Fprintln(pio.out, f)
	}
	files := map[string]bool{}
	for _, p := range set.Policies() {
		files[p.File] = true
	}
	names := "names checked against " + *cfgPath
	if cfg == nil {
		names = "names not checked (no --config)"
	}
	status := "ok"
	if len(findings) > 0 {
		status = plural(len(findings), "warning")
	}
	fmt.Fprintf(pio.out, "%s: %s in %s, version %s, %s: %s\n", dir, plural(len(set.Policies()), "policy"),
		plural(len(files), "file"), set.Version(), names, status)
	if *strict && len(findings) > 0 {
		return exitError{exitWarnings}
	}
	return nil
}

func policyTest(args []string, pio policyIO) error {
	fs := flag.NewFlagSet("policy test", flag.ContinueOnError)
	fs.SetOutput(pio.err)
	cfgPath := fs.String("config", "", "configuration file: names are checked, targets classify with their settings")
	verbose := fs.Bool("v", false, "list the tests that pass too")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitError{2}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		printErrors(pio.out, err)
		return exitError{1}
	}
	dir, ok := policyDir(pos, cfg)
	if !ok {
		fmt.Fprint(pio.err, "usage: sluice policy test [--config FILE] [-v] DIR\n")
		return exitError{2}
	}
	env := offline.New(cfg)
	set, err := env.LoadPolicies(dir)
	if err != nil {
		printErrors(pio.out, err)
		fmt.Fprintf(pio.out, "FAIL: the policies of %s are invalid\n", dir)
		return exitError{1}
	}
	files, err := policytest.LoadDir(dir)
	if err != nil {
		printErrors(pio.out, err)
		fmt.Fprintf(pio.out, "FAIL: the test files of %s are invalid\n", dir)
		return exitError{1}
	}
	rep := policytest.Run(env, set, files)
	if err := rep.Write(pio.out, *verbose); err != nil {
		return err
	}
	if rep.Failed() > 0 {
		return exitError{1}
	}
	return nil
}

func policyExplain(args []string, pio policyIO) error {
	fs := flag.NewFlagSet("policy explain", flag.ContinueOnError)
	fs.SetOutput(pio.err)
	cfgPath := fs.String("config", config.DefaultPath, "configuration file")
	dirFlag := fs.String("policies", "", "policy directory (default: the configuration's)")
	var q offline.Query
	fs.StringVar(&q.Identity, "identity", "", "identity sending the query (required)")
	fs.StringVar(&q.Target, "target", "", "target receiving it (required)")
	fs.StringVar(&q.SQL, "sql", "", `the query string; "-" reads it from standard input (required)`)
	searchPath := fs.String("search-path", "", "search_path the session starts with, comma-separated (default: the target's)")
	at := fs.String("time", "", "time of the query, RFC 3339 (default: now)")
	uid := fs.Uint("uid", 0, "attribution: uid of the process")
	gid := fs.Uint("gid", 0, "attribution: gid of the process")
	pid := fs.Uint("pid", 0, "attribution: pid of the process")
	fs.StringVar(&q.Attribution.Exe, "exe", "", "attribution: executable path")
	fs.StringVar(&q.Attribution.Comm, "comm", "", "attribution: command name")
	fs.StringVar(&q.Attribution.Unit, "unit", "", "attribution: systemd unit")
	fs.StringVar(&q.Attribution.Cgroup, "cgroup", "", "attribution: cgroup path")
	claimsJSON := fs.String("claims", "", `the OIDC claims of the identity's token, as JSON ('{"ref":"refs/heads/main"}')`)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitError{2}
	}
	if len(pos) > 0 || q.Identity == "" || q.Target == "" || q.SQL == "" || *uid > 1<<32-1 || *gid > 1<<32-1 || *pid > 1<<32-1 {
		fmt.Fprint(pio.err, "usage: sluice policy explain [--config FILE] [--policies DIR] --identity NAME --target NAME --sql SQL [--json] [...]\n")
		return exitError{2}
	}
	q.Attribution.UID, q.Attribution.GID, q.Attribution.PID = uint32(*uid), uint32(*gid), uint32(*pid)
	if *claimsJSON != "" {
		if q.Attribution.Claims, err = claims.Decode([]byte(*claimsJSON)); err != nil {
			fmt.Fprintf(pio.err, "sluice: policy explain: --claims: not a JSON object of claims: %v\n", err)
			return exitError{2}
		}
	}
	if *searchPath != "" {
		q.SearchPath = strings.Split(*searchPath, ",")
	}
	q.Time = time.Now()
	if *at != "" {
		if q.Time, err = time.Parse(time.RFC3339Nano, *at); err != nil {
			fmt.Fprintf(pio.err, "sluice: policy explain: --time: %v\n", err)
			return exitError{2}
		}
	}
	if q.SQL == "-" {
		data, err := io.ReadAll(io.LimitReader(pio.in, 64<<20))
		if err != nil {
			return fmt.Errorf("policy explain: standard input: %w", err)
		}
		q.SQL = string(data)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		printErrors(pio.err, err)
		return exitError{1}
	}
	dir := cfg.PoliciesDir
	if *dirFlag != "" {
		dir = *dirFlag
	}
	env := offline.New(cfg)
	set, err := env.LoadPolicies(dir)
	if err != nil {
		printErrors(pio.err, err)
		return exitError{1}
	}
	res, err := env.Decide(set, q)
	if err != nil {
		if errors.Is(err, offline.ErrUnknownName) || errors.Is(err, offline.ErrNotInspected) {
			return fmt.Errorf("policy explain: %w", err)
		}
		return err
	}
	rep := explain.New(q, dir, set, res)
	if *asJSON {
		return rep.WriteJSON(pio.out)
	}
	return rep.WriteText(pio.out)
}

func plural(n int, what string) string {
	switch {
	case n == 1:
		return "1 " + what
	case strings.HasSuffix(what, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(what, "y"))
	}
	return fmt.Sprintf("%d %ss", n, what)
}
