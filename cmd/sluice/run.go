package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/pkg/control"
)

// maxTokenFile bounds what is read of a token file.
const maxTokenFile = 64 << 10

// cmdRun asks the daemon to place this process in a job cgroup tagged with
// the identity, then replaces itself with the command: the exit code, the
// signals and the process tree are the command's own. With an OIDC token,
// the identity is the one the token's claims map to. With --refresh, the
// job this process runs in gets a newer token, and no command is run.
func cmdRun(controlFlag string, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	ident := fs.String("identity", "", "identity to run the command as")
	tokenFile := fs.String("oidc-token-file", "", "file holding an OIDC token; the job runs as the identity its claims map to")
	tokenEnv := fs.String("oidc-token-env", "", "environment variable holding an OIDC token")
	refresh := fs.Bool("refresh", false, "give the job this process runs in a newer token (with --oidc-token-file or --oidc-token-env), and run nothing")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sluice run --identity NAME -- CMD [ARGS...]")
		fmt.Fprintln(fs.Output(), "       sluice run (--oidc-token-file PATH | --oidc-token-env VAR) [--identity NAME] -- CMD [ARGS...]")
		fmt.Fprintln(fs.Output(), "       sluice run --refresh (--oidc-token-file PATH | --oidc-token-env VAR)")
	}
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	argv := fs.Args()
	hasToken := *tokenFile != "" || *tokenEnv != ""
	switch {
	case *tokenFile != "" && *tokenEnv != "":
		fmt.Fprintln(os.Stderr, "sluice run: give --oidc-token-file or --oidc-token-env, not both")
		return exitError{2}
	case *refresh && (!hasToken || len(argv) > 0 || *ident != ""):
		fs.Usage()
		return exitError{2}
	case !*refresh && (!hasToken && *ident == "" || len(argv) == 0):
		fs.Usage()
		return exitError{2}
	}
	req := control.Request{Op: control.OpRun, Identity: *ident}
	if hasToken {
		tok, err := readToken(*tokenFile, *tokenEnv)
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		req.Token = tok
	}
	if *refresh {
		req.Op = control.OpRefresh
		resp, err := control.Call(control.SocketPath(controlFlag), req, 30*time.Second)
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		if resp.Job != nil && resp.Job.OIDC != nil {
			fmt.Printf("job %s (%s) bound to a token of %s until %s\n", resp.Job.Cgroup, resp.Job.Identity,
				resp.Job.OIDC.Subject, resp.Job.OIDC.Expires.Local().Format(time.RFC3339))
		}
		return nil
	}
	bin, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "sluice run: %v\n", err)
		return exitError{127}
	}
	resp, err := control.Call(control.SocketPath(controlFlag), req, 30*time.Second)
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

// readToken reads an OIDC token from a file or an environment variable,
// without its surrounding whitespace. Errors name the source, never the
// content.
func readToken(file, env string) (string, error) {
	var tok string
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("--oidc-token-file: %w", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
		if err != nil {
			return "", fmt.Errorf("--oidc-token-file %s: %w", file, err)
		}
		if len(data) > maxTokenFile {
			return "", fmt.Errorf("--oidc-token-file %s: larger than %d bytes: not a token", file, maxTokenFile)
		}
		tok = string(data)
	} else {
		v, ok := os.LookupEnv(env)
		if !ok {
			return "", fmt.Errorf("--oidc-token-env: %s is not set", env)
		}
		tok = v
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", errors.New("the OIDC token is empty")
	}
	return tok, nil
}
