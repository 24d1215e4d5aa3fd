package config

import (
	"fmt"
	"path"
	"strings"
	"time"

	"filippo.io/age"
)

// Recording is the recording mapping: how sessions are recorded.
type Recording struct {
	// Enabled turns recording of inspected sessions on.
	Enabled bool
	// FsyncInterval is how often recordings are synced to disk (one
	// group commit for all of them).
	FsyncInterval time.Duration
	Retention     Retention
	// Recipients are age public keys; with any, recordings are encrypted
	// to them.
	Recipients []string
	// SampleRows is how many (masked) result rows a statement's result
	// event keeps; 0 keeps none.
	SampleRows uint32
	// HostKey is the absolute path of the ed25519 key that signs
	// recordings; default: host_key in state_dir.
	HostKey string
	// MaxSessionSize bounds one session's recording, in bytes (0: no
	// bound).
	MaxSessionSize uint64
}

// Retention bounds the recordings kept; 0 means no bound.
type Retention struct {
	MaxAge  time.Duration
	MaxSize uint64 // bytes
}

// RecordFailure is the value of a target's on_record_failure: what happens
// to a statement whose record cannot be written.
type RecordFailure string

// Record failure policies.
const (
	RecordFailureDeny  RecordFailure = "deny"  // the statement is refused
	RecordFailureAllow RecordFailure = "allow" // the statement runs unrecorded
)

// Defaults and bounds of the recording mapping.
const (
	DefaultFsyncInterval = 100 * time.Millisecond
	MinFsyncInterval     = time.Millisecond
	MaxFsyncInterval     = time.Minute
	MaxSampleRows        = 1000
	MinRetentionAge      = time.Hour
	MinRetentionSize     = 1 << 20
	DefaultHostKeyName   = "host_key"

	DefaultMaxSessionSize = 1 << 30
	MinMaxSessionSize     = 1 << 20
)

// recordedProtocols are the protocols whose sessions are recorded.
var recordedProtocols = []Protocol{ProtocolPostgres}

func defaultRecording() Recording {
	return Recording{
		Enabled: true, FsyncInterval: DefaultFsyncInterval, HostKey: path.Join(DefaultStateDir, DefaultHostKeyName),
		MaxSessionSize: DefaultMaxSessionSize,
	}
}

func recordingFields(r *Recording) []field {
	return []field{
		{"enabled", boolean(&r.Enabled)},
		{"fsync_interval", duration(&r.FsyncInterval)},
		{"retention", object(retentionFields(&r.Retention))},
		{"recipients", list(&r.Recipients, stringItem)},
		{"sample_rows", u32(&r.SampleRows)},
		{"host_key", str(&r.HostKey)},
		{"max_session_size", byteSize(&r.MaxSessionSize)},
	}
}

func retentionFields(r *Retention) []field {
	return []field{
		{"max_age", duration(&r.MaxAge)},
		{"max_size", byteSize(&r.MaxSize)},
	}
}

// recording checks the recording mapping. It runs after state_dir is
// checked, whose value host_key defaults to.
func (v *validator) recording() {
	r := &v.c.Recording
	if !v.skip("recording.fsync_interval") && (r.FsyncInterval < MinFsyncInterval || r.FsyncInterval > MaxFsyncInterval) {
		v.errorf("recording.fsync_interval", "must be between %s and %s, got %s", MinFsyncInterval, MaxFsyncInterval, r.FsyncInterval)
	}
	if a := r.Retention.MaxAge; a != 0 && a < MinRetentionAge && !v.skip("recording.retention.max_age") {
		v.errorf("recording.retention.max_age", "must be 0 (keep recordings whatever their age) or at least %s, got %s", MinRetentionAge, a)
	}
	if n := r.Retention.MaxSize; n != 0 && n < MinRetentionSize && !v.skip("recording.retention.max_size") {
		v.errorf("recording.retention.max_size", "must be 0 (no bound) or at least 1MiB, got %d bytes", n)
	}
	if n := r.MaxSessionSize; n != 0 && n < MinMaxSessionSize && !v.skip("recording.max_session_size") {
		v.errorf("recording.max_session_size", "must be 0 (no bound) or at least 1MiB, got %d bytes", n)
	}
	if r.SampleRows > MaxSampleRows && !v.skip("recording.sample_rows") {
		v.errorf("recording.sample_rows", "must be at most %d, got %d", MaxSampleRows, r.SampleRows)
	}
	v.recipients()
	if v.present("recording.host_key") {
		v.absPath("recording.host_key", &r.HostKey, false)
	} else {
		r.HostKey = path.Join(v.c.StateDir, DefaultHostKeyName)
	}
}

// recipients checks that each recipient is an age public key, listed
// once, and that post-quantum and classic keys are not mixed (age refuses
// to encrypt to both). An identity (secret key) written by mistake is
// reported without being repeated.
func (v *validator) recipients() {
	seen := map[string]int{}
	pq, classic := -1, -1
	for i, k := range v.c.Recording.Recipients {
		p := fmt.Sprintf("recording.recipients[%d]", i)
		if v.skip(p) {
			continue
		}
		switch {
		case strings.HasPrefix(strings.ToUpper(strings.TrimSpace(k)), "AGE-SECRET-KEY-"):
			v.errorf(p, "this is an age identity (a secret key), not a recipient: write its public key (age-keygen -y prints it) and keep the identity off this host")
			continue
		case !strings.HasPrefix(k, "age1"):
			v.errorf(p, "not an age recipient: write an age public key (age1...)")
			continue
		}
		rs, err := age.ParseRecipients(strings.NewReader(k))
		if err != nil || len(rs) != 1 {
			v.errorf(p, "invalid age recipient %q", clipValue(k))
			continue
		}
		if first, dup := seen[k]; dup {
			v.errorf(p, "recipient listed twice (first at line %d)", v.line(fmt.Sprintf("recording.recipients[%d]", first)))
			continue
		}
		seen[k] = i
		if _, ok := rs[0].(*age.HybridRecipient); ok {
			pq = i
		} else {
			classic = i
		}
	}
	if pq >= 0 && classic >= 0 {
		v.errorf(fmt.Sprintf("recording.recipients[%d]", max(pq, classic)),
			"post-quantum (age1pq1...) and classic (age1...) recipients cannot be mixed: age refuses to encrypt to both")
	}
}

// onRecordFailure checks a target's on_record_failure: deny unless
// written, and "" for a target whose sessions are not recorded.
func (v *validator) onRecordFailure(item string, t *Target) {
	p := item + ".on_record_failure"
	recorded := false
	for _, rp := range recordedProtocols {
		recorded = recorded || t.Protocol == rp
	}
	switch {
	case v.skip(p):
	case !recorded:
		if v.present(p) && v.present(item+".protocol") {
			v.errorf(p, "only used by targets whose sessions are recorded (protocol postgres); a %q target is not recorded", t.Protocol)
		}
		t.OnRecordFailure = ""
	case !v.present(p):
		t.OnRecordFailure = RecordFailureDeny
	default:
		oneOf(v, p, t.OnRecordFailure, RecordFailureDeny, RecordFailureAllow)
	}
}
