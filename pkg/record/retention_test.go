package record

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	ids := []string{"aaaa000000000001", "aaaa000000000002", "aaaa000000000003"}
	tests := []struct {
		name    string
		opts    func(sizes []int64, open int64) Options
		expired []string
	}{
		{"max_age removes what is older", func([]int64, int64) Options {
			return Options{MaxAge: 48 * time.Hour}
		}, ids[:1]},
		{"max_size removes the oldest until the rest fits", func(sizes []int64, open int64) Options {
			return Options{MaxBytes: sizes[1] + sizes[2] + open}
		}, ids[:1]},
		{"max_size below the open recording removes every closed one", func([]int64, int64) Options {
			return Options{MaxBytes: 1}
		}, ids},
		{"no bound removes nothing", func([]int64, int64) Options { return Options{} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			s, dir := openStore(t, Options{Now: clk.Now, FsyncInterval: time.Hour, RetentionInterval: time.Hour})
			var sizes []int64
			// Ages 72 h, 24 h and 1 h, from when they were closed (logged).
			// A file's modification time counts for nothing: the first is
			// made to look the newest.
			for i, id := range ids {
				r := record(t, s, id)
				if err := s.Sync(); err != nil {
					t.Fatal(err)
				}
				clk.Advance([]time.Duration{48 * time.Hour, 23 * time.Hour, time.Hour}[i])
				p := filepath.Join(dir, r.Path())
				if i == 0 {
					if err := os.Chtimes(p, clk.Now(), clk.Now()); err != nil {
						t.Fatal(err)
					}
				}
				fi, _ := os.Stat(p)
				sizes = append(sizes, fi.Size())
			}
			// An open recording, older than everything: never removed.
			open, err := s.Create(pgHeader("bbbb000000000001"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := open.Append(pgEvents()[1]); err != nil {
				t.Fatal(err)
			}
			old := clk.Now().Add(-1000 * time.Hour)
			_ = os.Chtimes(filepath.Join(dir, open.Path()), old, old)
			o := tt.opts(sizes, open.sizeNow())
			s.opts.MaxAge, s.opts.MaxBytes = o.MaxAge, o.MaxBytes
			if err := s.Retain(); err != nil {
				t.Fatal(err)
			}
			gone := map[string]bool{}
			for _, id := range tt.expired {
				gone[id] = true
			}
			for _, id := range ids {
				_, err := Find(dir, id)
				if gone[id] != errors.Is(err, ErrNotFound) {
					t.Errorf("%s: Find: %v (want removed: %v)", id, err, gone[id])
				}
			}
			if _, err := os.Stat(filepath.Join(dir, open.Path())); err != nil {
				t.Errorf("open recording removed: %v", err)
			}
			rep, err := Verify(dir, VerifyOptions{PublicKey: s.PublicKey()})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) > 0 {
				t.Errorf("verify after retention: %v", rep.Problems)
			}
			for _, c := range rep.Recordings {
				want := StateOK
				switch {
				case gone[c.Session]:
					want = StateExpired
				case c.Session == open.Session():
					want = StateOpen
				}
				if c.State != want {
					t.Errorf("%s: state %s, want %s", c.Session, c.State, want)
				}
			}
			// A file deleted behind the store's back is not expired by
			// retention: verify still reports it.
			if len(tt.expired) == 0 {
				if err := os.Remove(findFile(t, dir, ids[0])); err != nil {
					t.Fatal(err)
				}
				s.opts.MaxBytes = 1
				if err := s.Retain(); err != nil {
					t.Fatal(err)
				}
				rep, _ := Verify(dir, VerifyOptions{PublicKey: s.PublicKey()})
				if len(rep.Problems) != 1 || rep.Problems[0].Session != ids[0] {
					t.Errorf("deleted, then retention: %v", rep.Problems)
				}
			}
		})
	}
}
