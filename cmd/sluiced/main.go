// Command sluiced is the sluice node daemon. It redirects the outbound TCP
// connections of tagged processes to its local proxy and reports who made
// each one. See docs/ for configuration, events and metrics.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/sluicehq/sluice/pkg/daemon"
)

func main() {
	configPath := flag.String("config", "/etc/sluice/sluice.yaml", "configuration file")
	version := flag.Bool("version", false, "print the version and exit")
	check := flag.Bool("check", false, "validate the configuration and its policies, and exit")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file until the daemon stops (performance work)")
	flag.Parse()
	if *version {
		fmt.Println("sluiced", daemon.Version)
		return
	}
	if *check {
		if err := daemon.Check(*configPath); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%s: ok\n", *configPath)
		return
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatalf("sluiced: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatalf("sluiced: %v", err)
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()

	err := daemon.Run(ctx, *configPath, os.Stdout, reload)
	if err != nil && !errors.Is(err, daemon.ErrDetached) {
		pprof.StopCPUProfile()
		log.Fatalf("sluiced: %v", err)
	}
}
