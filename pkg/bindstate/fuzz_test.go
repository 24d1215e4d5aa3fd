package bindstate

import (
	"os"
	"testing"
)

// FuzzDecode: whatever the file holds, decoding ends with bindings that
// are complete and encode again, problems, or an error; never a panic.
func FuzzDecode(f *testing.F) {
	if data, err := os.ReadFile("testdata/bindings.json"); err == nil {
		f.Add(data)
	}
	for _, seed := range []string{
		`{"version":1,"bindings":[]}`,
		`{"version":1,"bindings":[{"job":"/j/job-1","cgroup_id":1,"identity":"i","issuer":"u","subject":"s","expires":"2026-01-01T00:00:00Z","claims":{"n":1e400}}]}`,
		`{"version":1,"bindings":[null,1,"x",{}]}`,
		`{"version":1}`,
		`{"version":1,"bindings":[{"job":"/j/job-1","cgroup_id":1,"identity":"i","issuer":"u","subject":"s","expires":"0000-01-01T00:00:00+01:00"}]}`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		bs, problems, err := Decode(data)
		if err != nil && (bs != nil || problems != nil) {
			t.Fatalf("an error with results: %v %v", bs, problems)
		}
		for _, b := range bs {
			if b.OIDC == nil || b.Job == "" || b.CgroupID == 0 || b.OIDC.Subject == "" || b.OIDC.Expires.IsZero() {
				t.Fatalf("an incomplete binding: %+v", b)
			}
		}
		again, err := Encode(bs)
		if err != nil {
			t.Fatalf("a decoded binding does not encode: %v", err)
		}
		bs2, problems2, err := Decode(again)
		if err != nil || len(problems2) != 0 || len(bs2) != len(bs) {
			t.Fatalf("re-encoded file: %d bindings, %v, %v; want %d", len(bs2), problems2, err, len(bs))
		}
	})
}
