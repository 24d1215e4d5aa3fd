package postgres

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/approval"
	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
)

// fuzzMaxMessage is the MaxMessageSize of the fuzzed inspector.
const fuzzMaxMessage = 4096

// fuzzMaxAlloc bounds what one fuzzed session may allocate in all: far
// above what the inspector, the classifier and the fake need for inputs
// of a few kilobytes, far below what trusting one declared length would
// cost.
const fuzzMaxAlloc = 16 << 20

var writeSeeds = flag.Bool("write-seeds", false, "rewrite the seed corpora in testdata/fuzz")

// fuzzHandler is the inspector shared by every input of a fuzz target.
func fuzzHandler(f *testing.F) *Handler {
	log, err := audit.New(io.Discard, audit.Options{})
	if err != nil {
		f.Fatal(err)
	}
	h, err := New(testTarget, "127.0.0.1", testConfig(config.Postgres{MaxMessageSize: fuzzMaxMessage}),
		Deps{Log: log, Policy: newTestPolicy(), Cancels: NewCancels(), Approvals: autoBroker{}})
	if err != nil {
		f.Fatal(err)
	}
	return h
}

// autoBroker decides every request at once, by its fingerprint: about
// half are approved, the others denied, so that fuzzing runs both ways
// out of a hold.
type autoBroker struct{}

func (autoBroker) Check(*approval.Request) (*approval.Grant, bool) { return nil, false }

func (autoBroker) Request(_ context.Context, r approval.Request) approval.Outcome {
	if r.Fingerprint != "" && r.Fingerprint[len(r.Fingerprint)-1]%2 == 0 {
		return approval.Outcome{Decision: approval.Approved, ID: "fuzzfuzzfuzzfuzz", Grant: &approval.Grant{Once: true}}
	}
	return approval.Outcome{Decision: approval.Denied, ID: "fuzzfuzzfuzzfuzz", Message: "denied by the fuzzer"}
}

func enc(msgs ...pgproto3.FrontendMessage) []byte {
	var out []byte
	for _, m := range msgs {
		var err error
		if out, err = m.Encode(out); err != nil {
			panic(err)
		}
	}
	return out
}

func join(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// sessionSeeds are message sequences a client sends after logging in.
func sessionSeeds() [][]byte {
	Q := func(s string) *pgproto3.Query { return &pgproto3.Query{String: s} }
	return [][]byte{
		enc(Q("SELECT 1"), &pgproto3.Terminate{}),
		enc(Q("DELETE FROM t")),
		enc(Q("SELECT 1; DELETE FROM t; UPDATE t SET a = 1")),
		enc(Q("BEGIN"), Q("DELETE FROM t"), Q("SELECT 1"), Q("ROLLBACK")),
		enc(Q(""), Q("SELEC 1"), Q("SELECT * FROM missing")),
		enc(parse("", "SELECT 1"), bind("", ""), &pgproto3.Describe{ObjectType: 'P'}, execute("", 0),
			parse("", "DELETE FROM t WHERE id = $1"), bind("", "", "1"), execute("", 0), syncMsg,
			parse("", "UPDATE t SET a = $1"), bind("", "", "2"), execute("", 0), syncMsg),
		enc(parse("s1", "SELECT * FROM t"), &pgproto3.Describe{ObjectType: 'S', Name: "s1"}, syncMsg,
			bind("p", "s1"), execute("p", 1), flush, execute("p", 0), syncMsg,
			&pgproto3.Close{ObjectType: 'S', Name: "s1"}, &pgproto3.Close{ObjectType: 'P', Name: "p"}, syncMsg),
		enc(parse("", "SELECT * FROM missing"), Q("SELECT 7"), syncMsg, Q("DELETE FROM t")),
		enc(parse("", "SELECT * FROM missing"), bind("", ""), execute("", 0), parse("", "TRUNCATE t"), syncMsg),
		enc(execute("cur", 0), syncMsg, bind("", "nope"), syncMsg),
		enc(&pgproto3.Bind{PreparedStatement: "", ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{0, 0, 0, 1}, nil}}, execute("", 0), syncMsg),
		enc(&pgproto3.FunctionCall{Function: 1598, ArgFormatCodes: []uint16{0}, Arguments: [][]byte{[]byte("x")}}),
		enc(&pgproto3.CopyData{Data: []byte("1\t2\n")}, &pgproto3.CopyDone{}, &pgproto3.CopyFail{Message: "stop"}, Q("SELECT 2")),
		enc(Q("BEGIN"), parse("", "DROP TABLE t"), bind("", ""), execute("", 0), syncMsg, Q("COMMIT")),
		join(enc(Q("SELECT 1")), rawFrame('Q', 1<<20, nil)),
		join(enc(parse("", "DELETE FROM t")), rawFrame('B', fuzzMaxMessage+1, make([]byte, 16))),
		rawFrame('z', 3, []byte("abc")),
		{'Q', 0, 0, 0, 2},
		rawFrame('Q', 8, []byte("SELECT 1")),
		enc(Q("SET search_path = sales, public"), Q("SELECT * FROM orders"), Q("SHOW search_path")),
		enc(Q("PREPARE p AS DELETE FROM t"), Q("EXECUTE p"), bind("", "p"), execute("", 0), syncMsg),
	}
}

// startupSeeds are startup phases: the packets a client sends first,
// then maybe more.
func startupSeeds() [][]byte {
	st := func(major, minor uint16, params ...string) []byte { return startupPacket(major, minor, params...) }
	return [][]byte{
		st(3, 0, "user", "alice", "database", "app"),
		join(st(3, 0, "user", "alice"), enc(&pgproto3.Query{String: "SELECT 1"})),
		join(st(3, 0, "user", "alice"), enc(&pgproto3.PasswordMessage{Password: "pw"}, &pgproto3.Query{String: "SELECT 1"})),
		join(st(3, 0, "user", "alice"), enc(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=abcdef")})),
		st(3, 2, "user", "alice", "_pq_.test", "1"),
		st(3, 9, "user", "alice"),
		st(2, 0, "user", "alice"),
		st(3, 0, "user", "alice", "replication", "database"),
		st(3, 0, "database", "app"),
		st(3, 0, "user", "alice", "options", `-c search_path=sales\ x,public --statement-timeout=5s`),
		join(requestPacket(codeSSLRequest), requestPacket(codeGSSENCRequest), st(3, 0, "user", "alice")),
		enc(&pgproto3.CancelRequest{ProcessID: 1, SecretKey: []byte{1, 2, 3, 4}}),
		lengthOnly(10001, nil),
		lengthOnly(4, nil),
		lengthOnly(17, []byte("\x00\x03\x00\x00user\x00bob\x00")),
		nil,
	}
}

// TestWriteFuzzSeeds rewrites testdata/fuzz with -write-seeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-seeds to rewrite the seed corpora")
	}
	write := func(target string, i int, values ...string) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := "go test fuzz v1\n"
		for _, v := range values {
			body += v + "\n"
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range sessionSeeds() {
		write("FuzzSession", i, fmt.Sprintf("[]byte(%q)", s))
	}
	for i, s := range startupSeeds() {
		write("FuzzStartup", i, fmt.Sprintf("byte(%q)", byte(i%3)), fmt.Sprintf("[]byte(%q)", s))
	}
	for i, s := range sampleRowSeeds() {
		write("FuzzSampleRow", i, fmt.Sprintf("[]byte(%q)", s[0]), fmt.Sprintf("[]byte(%q)", s[1]))
	}
}

// fuzzServe runs one session: the client writes in and closes its side;
// Serve must return, and the session must not allocate without bound.
func fuzzServe(t *testing.T, h *Handler, fake *fakeServer, in []byte) {
	clientEnd, serverEnd := net.Pipe()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_, _ = h.Serve(context.Background(), testSession("fuzz"), serverEnd, fake.dial)
	}()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = io.Copy(io.Discard, clientEnd)
	}()
	_ = clientEnd.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, _ = clientEnd.Write(in)
	clientEnd.Close()
	select {
	case <-served:
	case <-time.After(ioTimeout):
		buf := make([]byte, 1<<20)
		t.Fatalf("Serve did not return %v after the client closed\n%s", ioTimeout, buf[:runtime.Stack(buf, true)])
	}
	<-drained
	fake.close()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > fuzzMaxAlloc {
		t.Fatalf("one session of %d input bytes allocated %d MiB", len(in), grew>>20)
	}
}

// FuzzSession sends random bytes after a valid login: the inspector must
// not panic, must end when the client leaves, and must keep its memory
// bounded by MaxMessageSize per message.
func FuzzSession(f *testing.F) {
	for _, s := range sessionSeeds() {
		f.Add(s)
	}
	h := fuzzHandler(f)
	login := startupPacket(3, 0, "user", "alice", "database", "app")
	f.Fuzz(func(t *testing.T, data []byte) {
		fake := newFake(t, fakeOptions{transport: overPipe, maxBody: fuzzMaxMessage})
		fuzzServe(t, h, fake, append(login[:len(login):len(login)], data...))
	})
}

// FuzzStartup sends random bytes as the startup phase, to a server that
// trusts, asks for a cleartext password, or runs SCRAM (relayed).
func FuzzStartup(f *testing.F) {
	for i, s := range startupSeeds() {
		f.Add(byte(i%3), s)
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, auth byte, data []byte) {
		opts := fakeOptions{transport: overPipe, maxBody: fuzzMaxMessage, password: "pw"}
		switch auth % 3 {
		case 1:
			opts.auth = authCleartext
		case 2:
			opts.auth = authSCRAM
		}
		fuzzServe(t, h, newFake(t, opts), data)
	})
}
