package postgres

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/config"
)

func TestPasswordSources(t *testing.T) {
	passwordCommandTimeout = 2 * time.Second
	defer func() { passwordCommandTimeout = 10 * time.Second }()
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLUICE_TEST_PW", "from-env")
	sh := func(script string) config.Credentials {
		return config.Credentials{PasswordCommand: []string{"/bin/sh", "-c", script}}
	}
	cases := []struct {
		name    string
		creds   config.Credentials
		want    string
		wantErr string
	}{
		{"environment", config.Credentials{PasswordEnv: "SLUICE_TEST_PW"}, "from-env", ""},
		{"file, newline trimmed", config.Credentials{PasswordFile: file}, "from-file", ""},
		{"command", sh("echo from-command"), "from-command", ""},
		{"a failing command: its stderr is not shown", sh("echo secret-on-stderr >&2; exit 3"), "", "exit status 3 (17 bytes on stderr)"},
		{"a command that outlives the timeout", sh("sleep 30"), "", "password_command"},
		{"a child holding stdout past the timeout", sh("sleep 30 & sleep 30"), "", "password_command"},
		{"too much output", sh("head -c 100000 /dev/zero | tr '\\0' x"), "", "more than 65536 bytes"},
		{"empty", sh("true"), "", "empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			pw, err := password(context.Background(), tc.creds)
			if took := time.Since(start); took > passwordCommandTimeout+5*time.Second {
				t.Errorf("took %s", took)
			}
			if tc.wantErr == "" {
				if err != nil || pw != tc.want {
					t.Fatalf("password = %q, %v; want %q", pw, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrNoPassword) || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "secret-on-stderr") {
				t.Fatalf("error %v, want ErrNoPassword containing %q", err, tc.wantErr)
			}
		})
	}
}
