package daemon

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/policy"
)

// policies holds the policy set in force. Inspectors decide every
// statement against the set current at that moment, so a reload applies
// to open sessions from their next statement.
type policies struct {
	set atomic.Pointer[policy.Set]

	dirsOnce sync.Once
	dirs     chan string // the directory the watcher follows, when it changes
}

// dirChan returns the channel that tells the policy watcher the
// directory to watch.
func (p *policies) dirChan() chan string {
	p.dirsOnce.Do(func() { p.dirs = make(chan string, 1) })
	return p.dirs
}

// watch tells the policy watcher to follow dir (the last one sent wins).
func (p *policies) watch(dir string) {
	ch := p.dirChan()
	for {
		select {
		case ch <- dir:
			return
		default:
			select {
			case <-ch: // drop a directory not yet taken
			default:
			}
		}
	}
}

// Decide implements the inspectors' Decider.
func (p *policies) Decide(r *policy.Request) policy.Decision {
	s := p.set.Load()
	if s == nil {
		return policy.Decision{Action: policy.Deny, Message: "no policy set is loaded"}
	}
	return s.Decide(r)
}

// loadPolicies reads the policies directory, cross-checked against cfg:
// its identities and targets, its hash key (without one, policies using
// the hash strategy are refused), and which PostgreSQL targets have auth:
// passthrough (where schema.table.column masking rules are refused).
func loadPolicies(cfg *config.Config) (*policy.Set, error) {
	known := policy.Known{Identities: []string{}, Targets: []string{}, Passthrough: []string{}, NoHashKey: cfg.Masking.HashKeyFile == ""}
	for _, id := range cfg.Identities {
		known.Identities = append(known.Identities, id.Name)
	}
	for _, t := range cfg.Targets {
		known.Targets = append(known.Targets, t.Name)
		if t.Protocol == config.ProtocolPostgres && t.Postgres.Auth != config.AuthInject {
			known.Passthrough = append(known.Passthrough, t.Name)
		}
	}
	s, err := policy.LoadDir(cfg.PoliciesDir, known)
	if err != nil {
		return nil, fmt.Errorf("policies %s: %w", cfg.PoliciesDir, err)
	}
	return s, nil
}

// reloadPolicies loads the policies for cfg and puts them in force, or
// keeps the old set and says why. The policy watcher follows cfg's
// directory from then on.
func (d *Daemon) reloadPolicies(cfg *config.Config) (*policy.Set, error) {
	s, err := loadPolicies(cfg)
	if err != nil {
		d.log.Warn(audit.PolicyReloadFailed).Str("policies", cfg.PoliciesDir).Err(err).
			Msg("policies not reloaded; the previous set stays in force")
		return nil, err
	}
	old := d.policies.set.Swap(s)
	d.policies.watch(cfg.PoliciesDir)
	if old == nil || old.Version() != s.Version() {
		d.log.Event(audit.PolicyReloaded).Str("policies", cfg.PoliciesDir).Str("policy_version", s.Version()).
			Int("count", len(s.Policies())).Msg("policies in force")
	}
	return s, nil
}

// Check validates the configuration at path and the policies it names,
// without starting anything (sluiced --check).
func Check(path string) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	// Build each inspector once: certificates, CA files, function globs
	// and the hash key are read and checked as they would be at start.
	masking, err := loadMasking(cfg)
	if err != nil {
		return err
	}
	d := &Daemon{}
	for _, t := range cfg.Targets {
		if _, err := d.handler(t, masking); err != nil {
			return err
		}
	}
	_, err = loadPolicies(cfg)
	return err
}
