package record

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
)

// TestWriterProcess is the process TestSealAfterKill kills: it records
// one closed session and one left open, says "ready" and waits.
func TestWriterProcess(t *testing.T) {
	base := os.Getenv("SLUICE_RECORD_WRITER_DIR")
	if base == "" {
		t.Skip("started by TestSealAfterKill")
	}
	opts := Options{HostKey: filepath.Join(base, "host_key"), Host: "build-7", FsyncInterval: time.Hour}
	if r := os.Getenv("SLUICE_RECORD_WRITER_RECIPIENT"); r != "" {
		opts.Recipients = []string{r}
	}
	s, err := Open(filepath.Join(base, "recordings"), opts)
	if err != nil {
		t.Fatal(err)
	}
	record(t, s, idA) // closed, not yet logged: the syncer never ran
	r, err := s.Create(pgHeader(idB))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range pgEvents() {
		if _, err := r.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("ready")
	select {}
}

func TestSealAfterKill(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			base := t.TempDir()
			key := installKey(t, base)
			var id *age.X25519Identity
			env := append(os.Environ(), "SLUICE_RECORD_WRITER_DIR="+base)
			if encrypted {
				var err error
				if id, err = age.GenerateX25519Identity(); err != nil {
					t.Fatal(err)
				}
				env = append(env, "SLUICE_RECORD_WRITER_RECIPIENT="+id.Recipient().String())
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestWriterProcess$", "-test.v")
			cmd.Env = env
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ready := false
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if sc.Text() == "ready" {
					ready = true
					break
				}
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if !ready {
				t.Fatal("the writer process did not get ready")
			}

			dir := filepath.Join(base, "recordings")
			fileB := findFile(t, dir, idB)
			// A torn write: half of a line at the end of B.
			const torn = `{"seq":6,"time":"2026-11-22T09:30:00.100000Z","kind":"statement","decis`
			f, err := os.OpenFile(fileB, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString(torn); err != nil {
				t.Fatal(err)
			}
			f.Close()

			s := openAt(t, dir, key, Options{})
			rec := s.Recovered()
			if len(rec) != 2 {
				t.Fatalf("recovered %+v, want 2 recordings", rec)
			}
			for _, r := range rec {
				if r.Err != nil {
					t.Errorf("%s: %v", r.Session, r.Err)
				}
				switch r.Session {
				case idA:
					if r.Sealed || r.Cut != 0 || r.Events != 7 {
						t.Errorf("A: %+v, want logged as it was (7 events)", r)
					}
				case idB:
					if !r.Sealed || r.Cut != int64(len(torn)) || r.Events != 7 {
						t.Errorf("B: %+v, want sealed, %d bytes cut, 7 events", r, len(torn))
					}
				}
			}
			rd, f2, err := OpenFile(fileB, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer f2.Close()
			for {
				if _, err := rd.Next(); err != nil {
					break
				}
			}
			want := End{Reason: ReasonDaemonRestart, Events: 7, Statements: 2, Denied: 1, Cut: int64(len(torn))}
			if end := rd.End(); end == nil || *end != want {
				t.Errorf("end of B: %+v, want %+v", rd.End(), want)
			}
			rep, err := Verify(dir, VerifyOptions{PublicKey: s.PublicKey()})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) > 0 || len(rep.Recordings) != 2 {
				t.Errorf("verify after sealing: %+v", rep)
			}
			if _, err := os.Stat(filepath.Join(dir, "open", idB)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("marker of B left: %v", err)
			}
		})
	}
}

func findFile(t *testing.T, dir, id string) string {
	t.Helper()
	rel, err := Find(dir, id)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, rel)
}
