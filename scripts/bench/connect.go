package main

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// scenario is one measured operation in one cgroup.
type scenario struct {
	name   string
	cgroup string
	op     func(*benchEnv) error
}

// result is a scenario's median cost.
type result struct {
	name    string
	nsPerOp float64
	samples []float64
}

// section is one table of the report.
type section struct {
	title   string
	text    string
	results []result
	ratios  []ratio
}

type ratio struct {
	name, num, den, goal string
}

// connectClose is socket + blocking connect + close with linger 0 (no
// TIME_WAIT, so a bounded run never exhausts ports).
func connectClose(e *benchEnv) error {
	fd, err := dialEcho(e)
	if err != nil {
		return err
	}
	return closeRST(fd)
}

// roundTrip adds one byte echoed by the server, so the proxy's own work
// (accept, kernel lookup, upstream dial, relay) is inside the measurement.
func roundTrip(e *benchEnv) error {
	fd, err := dialEcho(e)
	if err != nil {
		return err
	}
	buf := []byte{'x'}
	if _, err := unix.Write(fd, buf); err != nil {
		unix.Close(fd)
		return err
	}
	if n, err := unix.Read(fd, buf); err != nil || n != 1 {
		unix.Close(fd)
		return fmt.Errorf("read: %d, %v", n, err)
	}
	return closeRST(fd)
}

func dialEcho(e *benchEnv) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	sa := &unix.SockaddrInet4{Addr: e.echoAddr.Addr().As4(), Port: int(e.echoAddr.Port())}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect: %w", err)
	}
	return fd, nil
}

func closeRST(fd int) error {
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	return unix.Close(fd)
}

// measure runs every scenario ops times per round, rotating the order each
// round, and keeps the per-round ns/op.
func measure(e *benchEnv, scenarios []scenario, rounds, ops int) ([]result, error) {
	samples := make([][]float64, len(scenarios))
	for r := 0; r < rounds; r++ {
		for i := range scenarios {
			k := (i + r) % len(scenarios)
			s := scenarios[k]
			if err := e.enter(s.cgroup); err != nil {
				return nil, err
			}
			for w := 0; w < ops/10; w++ { // warm-up
				if err := s.op(e); err != nil {
					return nil, fmt.Errorf("%s: %w", s.name, err)
				}
			}
			start := time.Now()
			for n := 0; n < ops; n++ {
				if err := s.op(e); err != nil {
					return nil, fmt.Errorf("%s: %w", s.name, err)
				}
			}
			samples[k] = append(samples[k], float64(time.Since(start).Nanoseconds())/float64(ops))
		}
	}
	if err := e.enter(""); err != nil {
		return nil, err
	}
	out := make([]result, len(scenarios))
	for i, s := range scenarios {
		out[i] = result{name: s.name, nsPerOp: median(samples[i]), samples: samples[i]}
	}
	return out, nil
}

func runConnect(e *benchEnv, rounds, ops int) ([]section, error) {
	untagged, err := measure(e, []scenario{
		{"connect+close, no programs attached", "plain", connectClose},
		{"connect+close, programs attached, untagged", "root/untagged", connectClose},
	}, rounds, ops)
	if err != nil {
		return nil, err
	}
	before := e.countEvents("connection.open")
	tagged, err := measure(e, []scenario{
		{"connect+close, direct", "root/untagged", connectClose},
		{"connect+close, tagged, through sluice", "root/tagged", connectClose},
		{"connect+1-byte echo+close, direct", "root/untagged", roundTrip},
		{"connect+1-byte echo+close, tagged, through sluice", "root/tagged", roundTrip},
	}, rounds, ops)
	if err != nil {
		return nil, err
	}
	proxied := e.countEvents("connection.open") - before
	return []section{
		{
			title: "Untagged processes: cost of the attached programs",
			text: "A process in a cgroup below `cgroup_root` that is not tagged still runs the connect, sockops and " +
				"getpeername programs on every connection. Compared with the same operation in a cgroup with no " +
				"programs attached.",
			results: untagged,
			ratios:  []ratio{{"attached / none", untagged[1].name, untagged[0].name, "≤ 1.02"}},
		},
		{
			title: "Tagged processes: through the proxy versus direct",
			text: fmt.Sprintf("The same operations from a tagged cgroup (redirected to sluiced, attributed, routed to "+
				"a `protocol: tcp` target, relayed, one event at open and one at close) and from an untagged one. "+
				"`connect` returns once the proxy's kernel socket accepts, so the echo variant is the one that "+
				"includes the proxy's work. sluiced logged %d connection.open events in this section.", proxied),
			results: tagged,
			ratios: []ratio{
				{"connect+close: sluice / direct", tagged[1].name, tagged[0].name, ""},
				{"connect+echo+close: sluice / direct", tagged[3].name, tagged[2].name, ""},
			},
		},
	}, nil
}
