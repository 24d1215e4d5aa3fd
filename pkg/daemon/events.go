package daemon

import (
	"context"

	"github.com/sluicehq/sluice/pkg/cgroup"
)

// consume applies cgroup tree changes until ctx ends.
func (d *Daemon) consume(ctx context.Context, events <-chan cgroup.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			d.log.Debug().Str("kind", ev.Kind.String()).Str("cgroup", ev.Path).Uint64("cgroup_id", ev.ID).Msg("cgroup event")
			switch ev.Kind {
			case cgroup.Added:
				d.onAdded(ev.Path, ev.ID)
			case cgroup.Removed:
				d.onRemoved(ev.Path, ev.ID)
			case cgroup.Emptied:
				if d.isJob(ev.Path) {
					d.removeJob(ev.Path)
				}
			}
		}
	}
}
