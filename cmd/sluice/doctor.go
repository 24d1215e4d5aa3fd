package main

import (
	"flag"
	"os"

	"github.com/sluicehq/sluice/pkg/doctor"
	"github.com/sluicehq/sluice/pkg/intercept"
)

// cmdDoctor checks whether this host can run sluiced; exit 1 on a failure.
func cmdDoctor(args []string) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	checks := doctor.Run(doctor.Options{VerifyObject: intercept.Verify})
	doctor.Print(os.Stdout, checks)
	if doctor.Failed(checks) {
		return exitError{1}
	}
	return nil
}
