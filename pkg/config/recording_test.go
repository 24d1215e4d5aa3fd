package config

import (
	"os"
	"reflect"
	"testing"
	"time"

	"filippo.io/age"
)

// Public keys of test identities (never used to encrypt anything real).
const (
	recipientA = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	recipientB = "age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg"
)

func TestRecording(t *testing.T) {
	c, err := Parse("sluice.yaml", []byte(`
state_dir: /srv/sluice
recording:
  enabled: false
  fsync_interval: 250ms
  retention: {max_age: 90d, max_size: 20GiB}
  recipients:
    - `+recipientA+`
    - `+recipientB+`
  sample_rows: 5
  max_session_size: 256MiB
targets:
  - name: orders-db
    protocol: postgres
    address: 127.0.0.2:5432
  - name: audit-db
    protocol: postgres
    address: 127.0.0.3:5432
    on_record_failure: allow
  - name: cache
    protocol: tcp
    address: 127.0.0.4:6379
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Recording{
		Enabled: false, FsyncInterval: 250 * time.Millisecond,
		Retention:  Retention{MaxAge: 90 * 24 * time.Hour, MaxSize: 20 << 30},
		Recipients: []string{recipientA, recipientB}, SampleRows: 5,
		HostKey: "/srv/sluice/host_key", MaxSessionSize: 256 << 20,
	}
	if !reflect.DeepEqual(c.Recording, want) {
		t.Errorf("recording\n%+v\nwant\n%+v", c.Recording, want)
	}
	for i, w := range []RecordFailure{RecordFailureDeny, RecordFailureAllow, ""} {
		if got := c.Targets[i].OnRecordFailure; got != w {
			t.Errorf("targets[%d].on_record_failure = %q, want %q", i, got, w)
		}
	}
	def, err := Parse("sluice.yaml", []byte("recording: {host_key: /etc/sluice/keys/../host_key}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := def.Recording; !got.Enabled || got.FsyncInterval != DefaultFsyncInterval || got.HostKey != "/etc/sluice/host_key" || got.SampleRows != 0 || got.MaxSessionSize != DefaultMaxSessionSize {
		t.Errorf("defaults: %+v", got)
	}
	for _, r := range []string{recipientA, recipientB} {
		if _, err := age.ParseX25519Recipient(r); err != nil {
			t.Fatalf("test recipient %s: %v", r, err)
		}
	}
}

func TestRecordingErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{
			name: "enabled is not a boolean",
			yaml: "recording:\n  enabled: yes\n",
			want: []wantErr{{"sluice.yaml:2: recording.enabled: ", `expected true or false, got string "yes"`}},
		},
		{
			name: "fsync interval without a unit",
			yaml: "recording:\n  fsync_interval: 100\n",
			want: []wantErr{{"sluice.yaml:2: recording.fsync_interval: ", "expected a duration with a unit, such as 100ms, 12h or 30d, got integer 100"}},
		},
		{
			name: "fsync interval out of bounds",
			yaml: "recording:\n  fsync_interval: 2m\n",
			want: []wantErr{{"sluice.yaml:2: recording.fsync_interval: ", "must be between 1ms and 1m0s, got 2m0s"}},
		},
		{
			name: "zero fsync interval",
			yaml: "recording: {fsync_interval: 0s}\n",
			want: []wantErr{{"sluice.yaml:1: recording.fsync_interval: ", "must be between 1ms and 1m0s, got 0s"}},
		},
		{
			name: "retention with bad units",
			yaml: "recording:\n  retention:\n    max_age: 3 weeks\n    max_size: 10 GB per day\n",
			want: []wantErr{
				{"sluice.yaml:3: recording.retention.max_age: ", `invalid duration "3 weeks"`},
				{"sluice.yaml:4: recording.retention.max_size: ", `invalid size "10 GB per day"`},
			},
		},
		{
			name: "retention too small",
			yaml: "recording:\n  retention: {max_age: 10m, max_size: 4096}\n",
			want: []wantErr{
				{"sluice.yaml:2: recording.retention.max_age: ", "must be 0 (keep recordings whatever their age) or at least 1h0m0s, got 10m0s"},
				{"sluice.yaml:2: recording.retention.max_size: ", "must be 0 (no bound) or at least 1MiB, got 4096 bytes"},
			},
		},
		{
			name: "a session size too small",
			yaml: "recording: {max_session_size: 64KiB}\n",
			want: []wantErr{{"sluice.yaml:1: recording.max_session_size: ", "must be 0 (no bound) or at least 1MiB, got 65536 bytes"}},
		},
		{
			name: "negative age",
			yaml: "recording: {retention: {max_age: -1h}}\n",
			want: []wantErr{{"sluice.yaml:1: recording.retention.max_age: ", `invalid duration "-1h": must not be negative`}},
		},
		{
			name: "a secret key as recipient",
			yaml: "recording:\n  recipients: [AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX]\n",
			want: []wantErr{{"sluice.yaml:2: recording.recipients[0]: ", "this is an age identity (a secret key), not a recipient: write its public key"}},
		},
		{
			name: "not a recipient",
			yaml: "recording:\n  recipients: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh\", age1notakey]\n",
			want: []wantErr{
				{"sluice.yaml:2: recording.recipients[0]: ", "not an age recipient: write an age public key (age1...)"},
				{"sluice.yaml:2: recording.recipients[1]: ", `invalid age recipient "age1notakey"`},
			},
		},
		{
			name: "recipient twice",
			yaml: "recording:\n  recipients:\n    - " + recipientA + "\n    - " + recipientA + "\n",
			want: []wantErr{{"sluice.yaml:4: recording.recipients[1]: ", "recipient listed twice (first at line 3)"}},
		},
		{
			name: "too many sample rows",
			yaml: "recording: {sample_rows: 5000}\n",
			want: []wantErr{{"sluice.yaml:1: recording.sample_rows: ", "must be at most 1000, got 5000"}},
		},
		{
			name: "relative host key",
			yaml: "recording: {host_key: keys/host_key}\n",
			want: []wantErr{{"sluice.yaml:1: recording.host_key: ", `must be an absolute path, got "keys/host_key"`}},
		},
		{
			name: "unknown key",
			yaml: "recording: {retension: {max_age: 30d}}\n",
			want: []wantErr{{"sluice.yaml:1: recording: ", `unknown key "retension" (did you mean "retention"?)`}},
		},
		{
			name: "on_record_failure value",
			yaml: "targets:\n  - name: db\n    protocol: postgres\n    address: 127.0.0.2:5432\n    on_record_failure: ignore\n",
			want: []wantErr{{"sluice.yaml:5: targets[0].on_record_failure: ", `must be one of deny, allow, got "ignore"`}},
		},
		{
			name: "on_record_failure on a tcp target",
			yaml: "targets:\n  - name: cache\n    protocol: tcp\n    address: 127.0.0.4:6379\n    on_record_failure: allow\n",
			want: []wantErr{{"sluice.yaml:5: targets[0].on_record_failure: ", `only used by targets whose sessions are recorded (protocol postgres); a "tcp" target is not recorded`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("sluice.yaml", []byte(tt.yaml))
			checkErrors(t, err, tt.want)
		})
	}
}

// TestRecordingGolden checks the full report of testdata/invalid-recording.yaml.
func TestRecordingGolden(t *testing.T) {
	_, err := Load("testdata/invalid-recording.yaml")
	splitErrors(t, err)
	got := err.Error() + "\n"
	const golden = "testdata/invalid-recording.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("error text differs from %s (run go test -update if intended):\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"100ms", 100 * time.Millisecond, true},
		{"1h30m", 90 * time.Minute, true},
		{"30d", 30 * 24 * time.Hour, true},
		{" 7d ", 7 * 24 * time.Hour, true},
		{"0", 0, true},
		{"0d", 0, true},
		{"1.5d", 0, false},
		{"d", 0, false},
		{"30", 0, false},
		{"-5s", 0, false},
		{"99999999999d", 0, false},
		{"1w", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"1048576", 1 << 20, true},
		{"500MB", 500e6, true},
		{"10GiB", 10 << 30, true},
		{"10 gib", 10 << 30, true},
		{"1_000kb", 1e6, true},
		{"2TiB", 2 << 40, true},
		{"0", 0, true},
		{"1.5GB", 0, false},
		{"GB", 0, false},
		{"10 GB per day", 0, false},
		{"-1", 0, false},
		{"99999999999TiB", 0, false},
		{"18446744073709551616", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseUnits(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDuration(s); err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v", s, d)
		}
		if n, err := ParseSize(s); err == nil && n > 1<<63-1 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
	})
}
