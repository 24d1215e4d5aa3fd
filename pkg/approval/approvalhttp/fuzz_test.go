package approvalhttp

import (
	"strings"
	"testing"
)

// FuzzDecodeDecision: whatever an approver posts, decoding ends with a
// decision or an error, within the size bound, never a panic.
func FuzzDecodeDecision(f *testing.F) {
	for _, seed := range []string{``, `{}`, `{"for":"30m","reason":"OPS-12"}`, `{"reason":"no"}`, `{"uid":0}`, `{"for":30}`, `{} {}`, `[`, strings.Repeat(" ", 9000)} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := DecodeDecision(strings.NewReader(string(data)))
		if err == nil && len(d.For)+len(d.Reason) > maxBody {
			t.Fatalf("decision of more than %d bytes accepted", maxBody)
		}
	})
}
