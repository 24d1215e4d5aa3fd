package postgres

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/pkg/config"
)

// passwordCommandTimeout bounds a password_command run.
var passwordCommandTimeout = 10 * time.Second

// ErrNoPassword is wrapped when the configured password source is empty or
// unreadable. Its messages name the source, never the password.
var ErrNoPassword = errors.New("postgres: upstream password unavailable")

// password reads the upstream password from its configured source. It is
// read for every login, so a rotated file or secret takes effect at once.
func password(ctx context.Context, c config.Credentials) (string, error) {
	var pw string
	switch {
	case c.PasswordEnv != "":
		v, ok := os.LookupEnv(c.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("%w: environment variable %s is not set", ErrNoPassword, c.PasswordEnv)
		}
		pw = v
	case c.PasswordFile != "":
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrNoPassword, err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	case len(c.PasswordCommand) > 0:
		ctx, cancel := context.WithTimeout(ctx, passwordCommandTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, c.PasswordCommand[0], c.PasswordCommand[1:]...)
		// Its own process group, killed whole at the timeout: a child
		// left holding stdout open cannot hold the login past it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = time.Second
		stdout, stderr := &boundedBuffer{max: maxPasswordOutput}, &boundedBuffer{max: maxPasswordOutput}
		cmd.Stdout, cmd.Stderr = stdout, stderr
		err := cmd.Run()
		if err == nil && stdout.over {
			err = fmt.Errorf("it wrote more than %d bytes", maxPasswordOutput)
		}
		if err != nil {
			// stderr may hold anything; report only its size.
			return "", fmt.Errorf("%w: password_command %s: %w (%d bytes on stderr)", ErrNoPassword, c.PasswordCommand[0], err, stderr.n)
		}
		pw = strings.TrimRight(stdout.b.String(), "\r\n")
	default:
		return "", fmt.Errorf("%w: no password source configured", ErrNoPassword)
	}
	if pw == "" {
		return "", fmt.Errorf("%w: the password source is empty", ErrNoPassword)
	}
	return pw, nil
}

// maxPasswordOutput bounds what password_command may write.
const maxPasswordOutput = 64 << 10

// boundedBuffer keeps the first max bytes written to it and counts the
// rest.
type boundedBuffer struct {
	b    bytes.Buffer
	max  int
	n    int
	over bool
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	w.n += len(p)
	if room := w.max - w.b.Len(); room > 0 {
		w.b.Write(p[:min(len(p), room)])
	}
	if w.n > w.max {
		w.over = true
	}
	return len(p), nil
}

// md5Password is PostgreSQL's md5 answer: "md5" + md5(md5(password+user) + salt).
func md5Password(user, pw string, salt [4]byte) string {
	inner := md5.Sum([]byte(pw + user))
	h := hex.EncodeToString(inner[:])
	outer := md5.Sum(append([]byte(h), salt[:]...))
	return "md5" + hex.EncodeToString(outer[:])
}
