package main

import (
	"fmt"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/record/hostkey"
)

// hostKeyStatus is the host key line of `sluice status`: the public key
// that signs recordings, read from recording.host_key + ".pub" of the
// daemon's configuration file (readable by root on a default install).
func hostKeyStatus(configPath string) string {
	cfg, err := config.Load(configPath)
	if err != nil {
		return fmt.Sprintf("(unknown: %v)", err)
	}
	pub, err := hostkey.ReadPublic(cfg.Recording.HostKey + ".pub")
	if err != nil {
		return fmt.Sprintf("(unknown: %v)", err)
	}
	return fmt.Sprintf("%s (id %s)", pub, pub.ID())
}
