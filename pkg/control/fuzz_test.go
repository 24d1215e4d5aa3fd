package control

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// FuzzDecodeRequest: whatever a local user sends, decoding ends with a
// request or an error, in bounded memory, never a panic.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"op":"run","identity":"ci-job"}` + "\n",
		`{"op":"run","token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}` + "\n",
		`{"op":"oidc.refresh","token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}` + "\n",
		`{"op":"run","token":7}` + "\n",
		`{"op":"status"}` + "\n",
		`{"op":"detach"}`,
		`{"op":"approvals"}` + "\n",
		`{"op":"approvals.watch"}` + "\n",
		`{"op":"approve","id":"k3xq7mz2a4bcdwef","for":"30m","reason":"OPS-12"}` + "\n",
		`{"op":"deny","id":"k3xq7mz2a4bcdwef","reason":"not now"}` + "\n",
		`{"op":"approve","id":"k3xq7mz2a4bcdwef","for":30}` + "\n",
		`{"op":"run","identity":"a","extra":1}` + "\n",
		`{"op":"run"}{"op":"detach"}` + "\n",
		"\x00\xff\n",
		strings.Repeat("[", 10000) + "\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeRequest(bufio.NewReaderSize(bytes.NewReader(data), 4096))
		if err == nil && len(req.Identity)+len(req.Token)+len(req.ID)+len(req.For)+len(req.Reason) > maxRequest {
			t.Fatalf("request of more than %d bytes accepted", maxRequest)
		}
	})
}

func TestDecodeRequest(t *testing.T) {
	cases := []struct {
		name, in string
		want     Request
		wantErr  string
	}{
		{"run", `{"op":"run","identity":"ci-job"}` + "\n", Request{Op: OpRun, Identity: "ci-job"}, ""},
		{"run with a token", `{"op":"run","token":"a.b.c"}` + "\n", Request{Op: OpRun, Token: "a.b.c"}, ""},
		{"refresh", `{"op":"oidc.refresh","token":"a.b.c"}` + "\n", Request{Op: OpRefresh, Token: "a.b.c"}, ""},
		{"token as a number", `{"op":"run","token":7}` + "\n", Request{}, "cannot unmarshal number"},
		{"approve", `{"op":"approve","id":"k3xq7mz2a4bcdwef","for":"30m","reason":"OPS-12"}` + "\n",
			Request{Op: OpApprove, ID: "k3xq7mz2a4bcdwef", For: "30m", Reason: "OPS-12"}, ""},
		{"for as a number", `{"op":"approve","id":"k3xq7mz2a4bcdwef","for":1800}` + "\n", Request{}, "cannot unmarshal number"},
		{"unknown field", `{"op":"run","uid":0}` + "\n", Request{}, "unknown field"},
		{"two values", `{"op":"status"} {"op":"detach"}` + "\n", Request{}, "more than one"},
		{"too long", `{"op":"` + strings.Repeat("x", maxRequest) + `"}` + "\n", Request{}, "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeRequest(bufio.NewReaderSize(strings.NewReader(tc.in), 4096))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}
