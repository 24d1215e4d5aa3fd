package main

import (
	"math"
	"testing"
)

func TestParseDiskstats(t *testing.T) {
	const stats = ` 254       0 vda 2206386 128036 45991610 11557134 1264781 923483 349754560 2009072 1 633952 13674498 685555 57 445401496 87081 268649 21210
 254      16 vdb 100 0 800 10 7 0 56 3 0 12 13 0 0 0 0 2 1
   7       0 loop0 5 0 10 0 0 0 0 0 0 0 0
`
	tests := []struct {
		name         string
		major, minor uint32
		want         diskIO
		err          bool
	}{
		{name: "first device", major: 254, minor: 0, want: diskIO{writes: 1264781, flushes: 268649}},
		{name: "second device", major: 254, minor: 16, want: diskIO{writes: 7, flushes: 2}},
		{name: "no flush counters (kernel before 5.5)", major: 7, minor: 0, err: true},
		{name: "not listed", major: 8, minor: 0, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDiskstats([]byte(stats), tc.major, tc.minor)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("parseDiskstats = %+v, %v; want %+v, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// TestDiskOfNoDevice: a file system without a block device of its own
// gives no disk figures, and no error that would stop the benchmark.
func TestDiskOfNoDevice(t *testing.T) {
	d := diskOf("/proc")
	if d.ok {
		t.Fatalf("diskOf(/proc) = %+v, want no disk", d)
	}
	if w, f := d.io(); !math.IsNaN(w) || !math.IsNaN(f) {
		t.Errorf("io() = %v, %v; want NaN, NaN", w, f)
	}
}
