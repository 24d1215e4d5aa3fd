package daemon

import (
	"fmt"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/record"
)

// openRecords opens the recording store in state_dir when recording is on,
// and reports the recordings a previous run left open and that were sealed
// now. It returns nil when recording is off.
func (d *Daemon) openRecords(cfg *config.Config) (*record.Store, error) {
	if !cfg.Recording.Enabled {
		return nil, nil
	}
	r := cfg.Recording
	s, err := record.Open(record.StoreDir(cfg.StateDir), record.Options{
		FsyncInterval: r.FsyncInterval,
		MaxAge:        r.Retention.MaxAge,
		MaxBytes:      int64(min(r.Retention.MaxSize, 1<<62)),
		Recipients:    r.Recipients,
		HostKey:       r.HostKey,
		SampleRows:    int(r.SampleRows),

		MaxSessionBytes: int64(min(r.MaxSessionSize, 1<<62)),
		OnError: func(err error) {
			d.log.Warn(audit.RecordFailed).Str("op", "store").Err(err).Msg("the recording store failed in the background")
		},
	})
	if err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	for _, rv := range s.Recovered() {
		e := d.log.Warn(audit.RecordSealed).Str("session", rv.Session).Str("path", rv.Path).
			Bool("sealed", rv.Sealed).Uint64("events", rv.Events).Int64("cut_bytes", rv.Cut)
		if rv.Err != nil {
			e = e.Err(rv.Err)
		}
		e.Msg("a recording left open by an earlier run was sealed")
	}
	return s, nil
}

// Version implements the inspectors' optional policy-version query: the
// version of the policy set in force, "" before one is loaded.
func (p *policies) Version() string {
	if s := p.set.Load(); s != nil {
		return s.Version()
	}
	return ""
}
