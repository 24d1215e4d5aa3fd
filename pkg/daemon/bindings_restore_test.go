package daemon

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/bindstate"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/control"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/intercept"
	"github.com/sluicehq/sluice/pkg/metrics"
)

const restoreConfig = `
oidc:
  issuers:
    - name: ci
      issuer: https://token.example.com
      audiences: [sluice]
      identity: "gha:{repository}@{ref}"
      expose: [ref, environment]
    - name: other
      issuer: https://other.example.com
      audiences: [sluice]
      identity: "other:{repository}"
log:
  readers: { uids: [1500] }
approvals:
  approvers: { uids: [1600] }
identities:
  - name: "gha:acme/app@main"
    oidc: { issuer: ci }
  - name: "gha:acme/keep@main"
    oidc: { issuer: ci, on_expiry: keep }
  - name: "other:acme/app"
    oidc: { issuer: other }
  - name: plain
`

// fakeCgroups are job cgroups and their tags.
type fakeCgroups struct {
	ids  map[string]uint64
	tags map[uint64]uint32
}

func (f fakeCgroups) CgroupID(p string) (uint64, error) {
	if id, ok := f.ids[p]; ok {
		return id, nil
	}
	return 0, fmt.Errorf("cgroup %s: %w", p, fs.ErrNotExist)
}

func (f fakeCgroups) Tag(id uint64) (uint32, bool, error) {
	v, ok := f.tags[id]
	return v, ok, nil
}

// restoreDaemon is a daemon with its bindings and a configuration, as at
// start before the proxy accepts.
func restoreDaemon(t *testing.T) (*Daemon, *eventLog) {
	t.Helper()
	cfg, err := config.Parse("sluice.yaml", []byte("state_dir: "+t.TempDir()+"\n"+restoreConfig))
	if err != nil {
		t.Fatal(err)
	}
	events := &eventLog{}
	log, err := audit.New(events, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{cfg: cfg, log: log, metrics: metrics.New(), jobsPath: "/sluice.jobs"}
	d.oidcMetrics = d.metrics.RegisterOIDC()
	d.bindings = newBindings(d.bindingExpired, nil)
	return d, events
}

func savedToken(ident, issuer string, exp time.Time) *identity.OIDC {
	return &identity.OIDC{Issuer: issuer, Subject: "repo:acme/app:ref:refs/heads/main", Identity: ident, JTI: "jti-" + ident,
		Expires: exp.Truncate(time.Second), Claims: map[string]any{"ref": "refs/heads/main", "environment": "production"}}
}

// TestRestoreBindings: a restart restores the bindings of jobs still
// running as they were, with their tokens' expiry, and drops the others,
// each with its reason; the jobs of bindings not restored are refused
// with that reason; the file then holds what was restored.
func TestRestoreBindings(t *testing.T) {
	d, events := restoreDaemon(t)
	p := bindstate.Path(d.cfg.StateDir)
	const ci, other = "https://token.example.com", "https://other.example.com"
	app, keep := "gha:acme/app@main", "gha:acme/keep@main"
	later, past := time.Now().Add(time.Hour), time.Now().Add(-time.Minute)
	cases := []struct {
		job      string
		token    *identity.OIDC
		expired  bool   // marked expired in the file
		id, tag  uint64 // the cgroup's id now (0: gone) and its tag's identity is this one's (0: untagged)
		tagAs    string // the identity it is tagged with, when not the token's
		dropped  string // the reason, when not restored
		lostWhy  string // what its refused connections say
		restored bool
	}{
		{job: "job-live", token: savedToken(app, ci, later), id: 101, restored: true},
		{job: "job-keep", token: savedToken(keep, ci, later), id: 102, restored: true},
		{job: "job-lapsed", token: savedToken(app, ci, past), id: 103, restored: true},
		{job: "job-marked", token: savedToken(app, ci, past), expired: true, id: 104, restored: true},
		{job: "job-gone", token: savedToken(app, ci, later), dropped: "the job ended: its cgroup is gone"},
		{job: "job-reused", token: savedToken(app, ci, later), id: 999, dropped: "the job ended: its cgroup is another one now (id 999, saved 106)"},
		{job: "job-untagged", token: savedToken(app, ci, later), id: 107, tagAs: "-", dropped: "the job cgroup is not tagged any more"},
		{job: "job-othertag", token: savedToken(app, ci, later), id: 108, tagAs: "plain",
			dropped: `the job cgroup is tagged with another identity than "gha:acme/app@main"`, lostWhy: "tagged with another identity"},
		{job: "job-unconfigured", token: savedToken("gha:acme/gone@main", ci, later), id: 109,
			dropped: `identity "gha:acme/gone@main" is no longer claimed with tokens of https://token.example.com`, lostWhy: "is no longer claimed"},
		{job: "job-wrong-issuer", token: savedToken("other:acme/app", ci, later), id: 110,
			dropped: `identity "other:acme/app" is no longer claimed with tokens of https://token.example.com`, lostWhy: "is no longer claimed"},
	}
	jobs := fakeCgroups{ids: map[string]uint64{}, tags: map[uint64]uint32{}}
	var saved []bindstate.Binding
	for i, tc := range cases {
		job := "/sluice.jobs/" + tc.job
		saved = append(saved, bindstate.Binding{Job: job, CgroupID: uint64(101 + i), OIDC: tc.token, Expired: tc.expired})
		if tc.id == 0 {
			continue
		}
		jobs.ids[job] = tc.id
		switch tc.tagAs {
		case "":
			jobs.tags[tc.id] = config.IdentityID(tc.token.Identity)
		case "-":
		default:
			jobs.tags[tc.id] = config.IdentityID(tc.tagAs)
		}
	}
	saved = append(saved, bindstate.Binding{Job: "/elsewhere/job-x", CgroupID: 120, OIDC: savedToken(app, ci, later)})
	if err := bindstate.Save(p, saved); err != nil {
		t.Fatal(err)
	}
	// One entry damaged by hand.
	var doc map[string]any
	data, _ := os.ReadFile(p)
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["bindings"] = append(doc["bindings"].([]any), map[string]any{"job": "/sluice.jobs/job-damaged", "cgroup_id": 0})
	data, _ = json.Marshal(doc)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}

	d.restoreBindings(d.cfg, jobs)

	restored := events.events(t, audit.IdentityRestored)
	dropped := events.events(t, audit.IdentityDropped)
	reasons := map[string]string{}
	for _, ev := range dropped {
		reasons[ev["cgroup"].(string)] = ev["reason"].(string)
	}
	if len(restored) != 4 || len(dropped) != 8 {
		t.Fatalf("%d restored, %d dropped; want 4 and 8: %v", len(restored), len(dropped), reasons)
	}
	if !strings.HasPrefix(reasons["/elsewhere/job-x"], "/elsewhere/job-x is not a job cgroup of /sluice.jobs") ||
		!strings.Contains(reasons["/sluice.jobs/job-damaged"], "damaged entry: binding 11 (job /sluice.jobs/job-damaged): identity is missing") {
		t.Errorf("reasons: %v", reasons)
	}
	for _, tc := range cases {
		job := "/sluice.jobs/" + tc.job
		o, expired, _, ok := d.bindings.get(job)
		if ok != tc.restored || tc.dropped != "" && !strings.HasPrefix(reasons[job], tc.dropped) {
			t.Errorf("%s: restored %v, dropped for %q; want restored %v, dropped for %q", tc.job, ok, reasons[job], tc.restored, tc.dropped)
		}
		if tc.restored && (o.JTI != tc.token.JTI || !o.Expires.Equal(tc.token.Expires) || o.Claims["environment"] != "production" ||
			o.Keep != (tc.job == "job-keep") || tc.expired && !expired) {
			t.Errorf("%s: restored as %+v (expired %v)", tc.job, o, expired)
		}
		if tc.lostWhy != "" {
			_, err := d.Binding(intercept.Origin{Identity: config.IdentityID(tc.token.Identity)}, job)
			if err == nil || !strings.Contains(err.Error(), tc.lostWhy) || !strings.Contains(err.Error(), "sluice run --refresh") {
				t.Errorf("%s: connection: %v, want a refusal saying %q", tc.job, err, tc.lostWhy)
			}
		}
	}
	if _, err := d.Binding(intercept.Origin{Identity: config.IdentityID(app)}, "/sluice.jobs/job-damaged"); err == nil ||
		!strings.Contains(err.Error(), "its saved binding is damaged") {
		t.Errorf("job with a damaged entry: %v", err)
	}

	// The job is bound as before: its connections carry the token, and
	// are counted as its sessions.
	lease, err := d.Binding(intercept.Origin{Identity: config.IdentityID(app)}, "/sluice.jobs/job-live/step")
	if err != nil || lease.OIDC.JTI != "jti-"+app || lease.Done == nil || lease.Release == nil {
		t.Fatalf("connection of a restored job: %+v, %v", lease, err)
	}
	if kl, err := d.Binding(intercept.Origin{Identity: config.IdentityID(keep)}, "/sluice.jobs/job-keep"); err != nil || kl.Done != nil {
		t.Fatalf("on_expiry keep after a restore: %+v, %v", kl, err)
	} else {
		kl.Release()
	}
	st := statusBindings(d.bindings.list(), true)
	if len(st) != 4 || st[2].Cgroup != "/sluice.jobs/job-live" || st[2].Sessions != 1 || !st[2].Restored || st[2].Subject == "" || st[0].Sessions != 0 {
		t.Fatalf("status: %+v", st)
	}
	lease.Release()

	// The binding that lapsed while sluiced was down expires now; the
	// one whose expiry was reported before does not report it again.
	exp := events.waitEvents(t, audit.IdentityExpired, 1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		bs, _, err := bindstate.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		lapsed := false
		for _, b := range bs {
			lapsed = lapsed || b.Job == "/sluice.jobs/job-lapsed" && b.Expired
		}
		if len(bs) == 4 && lapsed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the file after the restore: %+v", bs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(events.events(t, audit.IdentityExpired)) != 1 || exp[0]["cgroup"] != "/sluice.jobs/job-lapsed" {
		t.Fatalf("identity.expired: %v", events.events(t, audit.IdentityExpired))
	}
	events.mu.Lock()
	all := events.buf.String()
	events.mu.Unlock()
	if strings.Index(all, `"event":"identity.expired"`) < strings.LastIndex(all, `"event":"identity.restored"`) {
		t.Errorf("a lapsed token's expiry was reported before the restore:\n%s", all)
	}
	if _, err := d.Binding(intercept.Origin{Identity: config.IdentityID(app)}, "/sluice.jobs/job-lapsed"); err == nil || !strings.Contains(err.Error(), "expired at") {
		t.Fatalf("connection of a job whose token lapsed while sluiced was down: %v", err)
	}
}

// TestRestoreUnusableFile: a file that cannot be read as a whole is moved
// aside and reported; sluiced starts with no bindings, and the jobs'
// connections say why.
func TestRestoreUnusableFile(t *testing.T) {
	cases := []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"garbage", "\x00\x17not json", 0o600, "corrupt bindings file"},
		{"truncated", `{"version":1,"bindings":[{"job":"/sluice.jobs/job-a",`, 0o600, "unexpected EOF"},
		{"readable by others", `{"version":1,"bindings":[]}`, 0o644, "not a private file of the daemon's user"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, events := restoreDaemon(t)
			p := bindstate.Path(d.cfg.StateDir)
			if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			d.restoreBindings(d.cfg, fakeCgroups{})
			evs := events.events(t, audit.IdentityRestoreFailed)
			if len(evs) != 1 || !strings.Contains(evs[0]["error"].(string), tc.want) || evs[0]["moved_to"] != p+".corrupt" {
				t.Fatalf("identity.restore_failed: %v", evs)
			}
			if aside, err := os.ReadFile(p + ".corrupt"); err != nil || string(aside) != tc.content {
				t.Fatalf("file moved aside: %q, %v", aside, err)
			}
			if bs, _, err := bindstate.Load(p); err != nil || len(bs) != 0 {
				t.Fatalf("the new file: %v, %v", bs, err)
			}
			_, err := d.Binding(intercept.Origin{Identity: config.IdentityID("gha:acme/app@main")}, "/sluice.jobs/job-a")
			if err == nil || !strings.Contains(err.Error(), "sluiced could not read its saved bindings at start") {
				t.Fatalf("connection of a job: %v", err)
			}
		})
	}
}

// TestStatusBindingDetails: any local user sees which jobs are bound
// until when; the tokens' issuer, subject, jti and claims only root, log
// readers and approvers.
func TestStatusBindingDetails(t *testing.T) {
	d, _ := restoreDaemon(t)
	cases := []struct {
		name string
		peer control.Peer
		want bool
	}{
		{"root", control.Peer{UID: 0, PID: -1}, true},
		{"log reader", control.Peer{UID: 1500, GID: 1500, PID: -1}, true},
		{"approver", control.Peer{UID: 1600, GID: 1600, PID: -1}, true},
		{"other user", control.Peer{UID: 1700, GID: 1700, PID: -1}, false},
	}
	d.bindings.add("/sluice.jobs/job-a", 5, savedToken("gha:acme/app@main", "https://token.example.com", time.Now().Add(time.Hour)))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			details := mayReadBindings(d.cfg, tc.peer)
			st := statusBindings(d.bindings.list(), details)
			if details != tc.want || len(st) != 1 || st[0].Identity != "gha:acme/app@main" || st[0].Cgroup != "/sluice.jobs/job-a" {
				t.Fatalf("details %v, bindings %+v", details, st)
			}
			if shown := st[0].Subject != "" || st[0].Issuer != "" || st[0].JTI != "" || st[0].Claims != nil; shown != tc.want {
				t.Fatalf("token details shown: %v, want %v: %+v", shown, tc.want, st[0])
			}
		})
	}
}
