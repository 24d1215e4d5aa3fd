package intercept

import (
	"errors"
	"strings"
	"testing"
)

func TestFindBPFFS(t *testing.T) {
	cases := []struct {
		name, mountinfo, want string
		err                   error
	}{
		{"conventional mount preferred",
			"40 25 0:35 / /tmp/x rw - bpf bpf rw\n41 25 0:36 / /sys/fs/bpf rw,nosuid - bpf bpf rw,mode=700\n", "/sys/fs/bpf", nil},
		{"other mount when no conventional one",
			"22 1 0:21 / /sys rw - sysfs sysfs rw\n40 25 0:35 / /run/my\\040bpf rw - bpf bpf rw\n", "/run/my bpf", nil},
		{"none",
			"22 1 0:21 / /sys rw - sysfs sysfs rw\n", "", ErrNoBPFFS},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findBPFFS(strings.NewReader(tc.mountinfo))
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("findBPFFS = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}
