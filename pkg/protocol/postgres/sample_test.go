package postgres

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/record"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// answer makes a fake server's handler that answers the simple query q
// with msgs, then CommandComplete and ReadyForQuery.
func answer(q, tag string, msgs ...pgproto3.BackendMessage) func(net.Conn, string) bool {
	return func(conn net.Conn, got string) bool {
		if got != q {
			return false
		}
		be := pgproto3.NewBackend(conn, conn)
		for _, m := range msgs {
			be.Send(m)
		}
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
		be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		_ = be.Flush()
		return true
	}
}

// resultSample is a result event's sample, with its statement.
type resultSample struct {
	stmt   string // phase and text
	sample *record.Sample
}

// samples returns the samples of the result events of session id, in
// order, with their statements (nil for a result without one).
func samples(t *testing.T, s *record.Store, id string) []resultSample {
	t.Helper()
	_, evs, _ := recordedEvents(t, s, id)
	texts := map[uint64]string{}
	var out []resultSample
	for _, e := range evs {
		switch ev := e.v.(type) {
		case *record.Statement:
			texts[e.seq] = ev.Phase + " " + ev.Text
		case *record.Result:
			out = append(out, resultSample{texts[ev.Statement], ev.Sample})
		}
	}
	return out
}

// checkSamples compares samples with want.
func checkSamples(t *testing.T, got, want []resultSample) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d results, want %d: %+v", len(got), len(want), got)
	}
	for i := range min(len(got), len(want)) {
		if got[i].stmt != want[i].stmt || !reflect.DeepEqual(got[i].sample, want[i].sample) {
			t.Errorf("result %d of %q: sample\n\t%+v\nwant of %q\n\t%+v", i, got[i].stmt, got[i].sample, want[i].stmt, want[i].sample)
		}
	}
}

// column is a one-column sample.
func column(name string, rows ...string) *record.Sample {
	s := &record.Sample{Columns: []string{name}}
	for _, r := range rows {
		s.Rows = append(s.Rows, []string{r})
	}
	return s
}

func TestRecordingSample(t *testing.T) {
	blob := bytes.Repeat([]byte{0xab}, 300)
	long := strings.Repeat("é", 300)
	odd := answer("SELECT odd", "SELECT 1",
		&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{
			{Name: []byte("id"), DataTypeOID: 23, DataTypeSize: 4, Format: 1},
			{Name: []byte("note"), DataTypeOID: 25, DataTypeSize: -1},
			{Name: []byte("blob"), DataTypeOID: 17, DataTypeSize: -1, Format: 1},
			{Name: []byte("shape"), DataTypeOID: 600, DataTypeSize: 16, Format: 1},
			{Name: []byte("missing"), DataTypeOID: 25, DataTypeSize: -1},
			{Name: []byte("long"), DataTypeOID: 25, DataTypeSize: -1},
		}},
		&pgproto3.DataRow{Values: [][]byte{binary.BigEndian.AppendUint32(nil, 42), []byte("hello"), blob, make([]byte, 16), nil, []byte(long)}},
	)
	store := openSampleStore(t, 2)
	e := newEnv(t, envOptions{records: store, fake: fakeOptions{handle: odd}})
	c, _ := e.connect(nil)
	e.fake.resetLog()
	runSteps(t, e, c, []step{
		q("SELECT 1", "RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I"),
		q("SELECT n FROM t", "RowDescription", "DataRow 1", "DataRow 2", "DataRow 3", "CommandComplete SELECT 3", "ReadyForQuery I"),
		q("UPDATE t SET a = 1", "CommandComplete UPDATE 2", "ReadyForQuery I"),
		q("SELECT odd", "RowDescription", "DataRow "+string([]byte{0, 0, 0, 42})+",hello,"+string(blob)+","+string(make([]byte, 16))+",,"+long,
			"CommandComplete SELECT 1", "ReadyForQuery I"),
		{
			// The rows of an Execute come without a description: the
			// inspector asks for it, and the client never sees the answer.
			send: []pgproto3.FrontendMessage{
				&pgproto3.Parse{Name: "s1", Query: "SELECT $1::int"},
				&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{[]byte("42")}},
				&pgproto3.Execute{},
				&pgproto3.Sync{},
			},
			want: []string{"ParseComplete", "BindComplete", "DataRow 1", "DataRow 2", "DataRow 3", "CommandComplete SELECT 3", "ReadyForQuery I"},
		},
		{
			// A client's own Describe gets its answer, once.
			send: []pgproto3.FrontendMessage{
				&pgproto3.Bind{DestinationPortal: "p", PreparedStatement: "s1", Parameters: [][]byte{[]byte("7")}},
				&pgproto3.Describe{ObjectType: 'P', Name: "p"},
				&pgproto3.Execute{Portal: "p", MaxRows: 1},
				&pgproto3.Execute{Portal: "p"},
				&pgproto3.Sync{},
			},
			want: []string{"BindComplete", "RowDescription", "DataRow 1", "PortalSuspended", "DataRow 2", "DataRow 3", "CommandComplete SELECT 2", "ReadyForQuery I"},
		},
	})
	checkUpstream(t, e, []string{
		"Q SELECT 1", "Q SELECT n FROM t", "Q UPDATE t SET a = 1", "Q SELECT odd",
		"P(s1) SELECT $1::int", "B(,s1)", "D(P )", "E()", "S",
		"B(p,s1)", "D(P p)", "D(P p)", "E(p)", "D(P p)", "E(p)", "S",
	}, nil)
	c.terminate()

	exec := "execute SELECT $1::int"
	checkSamples(t, samples(t, store, "sess-1"), []resultSample{
		{"query SELECT 1", column("?column?", "1")},
		{"query SELECT n FROM t", column("n", "1", "2")},
		{"query UPDATE t SET a = 1", nil},
		{"query SELECT odd", &record.Sample{Columns: []string{"id", "note", "blob", "shape", "missing", "long"}, Cut: true, Rows: [][]string{{
			"42", "hello", `\x` + strings.Repeat("ab", 127), "<binary, 16 bytes>", "NULL", strings.Repeat("é", 128),
		}}}},
		{"parse SELECT $1::int", nil},
		{exec, column("n", "1", "2")},
		{exec, column("n", "1")},
		{exec, column("n", "2", "3")},
	})
}

// TestRecordingSampleMasked: the sample of a masked result holds the rows
// the client got, masked; the raw value reaches neither the client nor
// the recording.
func TestRecordingSampleMasked(t *testing.T) {
	const raw = "4111 1111 1111 1111"
	store := openSampleStore(t, 5)
	e := newEnv(t, envOptions{records: store, fake: fakeOptions{handle: answer("SELECT note FROM orders", "SELECT 2",
		rowDescription([]string{"note"}),
		&pgproto3.DataRow{Values: [][]byte{[]byte("paid with " + raw)}},
		&pgproto3.DataRow{Values: [][]byte{[]byte("no card")}},
	)}})
	e.policy.set(sqlclass.KindSelect, policy.Decision{Action: policy.Allow, Policy: "pii", Rule: "read",
		Masking: &policy.Masking{Policies: []string{"pii"}, Detectors: mask.Of(mask.Card), Strategy: mask.Partial}})
	c, _ := e.connect(nil)
	runSteps(t, e, c, []step{
		q("SELECT note FROM orders", "RowDescription", "DataRow paid with **** **** **** 1111", "DataRow no card", "CommandComplete SELECT 2", "ReadyForQuery I"),
		{
			send: []pgproto3.FrontendMessage{
				&pgproto3.Parse{Query: "SELECT n FROM t"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{},
			},
			want: []string{"ParseComplete", "BindComplete", "DataRow 1", "DataRow 2", "DataRow 3", "CommandComplete SELECT 3", "ReadyForQuery I"},
		},
	})
	c.terminate()
	checkSamples(t, samples(t, store, "sess-1"), []resultSample{
		{"query SELECT note FROM orders", column("note", "paid with **** **** **** 1111", "no card")},
		{"parse SELECT n FROM t", nil},
		{"execute SELECT n FROM t", column("n", "1", "2", "3")},
	})
	noneHolds(t, store.Dir(), raw)
}

// TestRecordingSampleOff: without sample_rows, the inspector asks the
// server for nothing more and records no rows.
func TestRecordingSampleOff(t *testing.T) {
	store := openStore(t)
	e := newEnv(t, envOptions{records: store})
	c, _ := e.connect(nil)
	e.fake.resetLog()
	runSteps(t, e, c, []step{
		q("SELECT 1", "RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I"),
		{
			send: []pgproto3.FrontendMessage{
				&pgproto3.Parse{Query: "SELECT n FROM t"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{},
			},
			want: []string{"ParseComplete", "BindComplete", "DataRow 1", "DataRow 2", "DataRow 3", "CommandComplete SELECT 3", "ReadyForQuery I"},
		},
	})
	checkUpstream(t, e, []string{"Q SELECT 1", "P() SELECT n FROM t", "B(,)", "E()", "S"}, nil)
	c.terminate()
	checkSamples(t, samples(t, store, "sess-1"), []resultSample{
		{"query SELECT 1", nil}, {"parse SELECT n FROM t", nil}, {"execute SELECT n FROM t", nil},
	})
}

// noneHolds fails the test if a file under dir holds any of raws.
func noneHolds(t *testing.T, dir string, raws ...string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, raw := range raws {
			if bytes.Contains(b, []byte(raw)) {
				t.Errorf("%s holds %q", p, raw)
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("%d files under %s: %v", files, dir, err)
	}
}

// sampleRowSeeds are result shapes (one byte per column: its type, and
// binary format when the high bit is set) and DataRow bodies.
func sampleRowSeeds() [][2][]byte {
	row := func(vals ...[]byte) []byte {
		b, _ := (&pgproto3.DataRow{Values: vals}).Encode(nil)
		return b[5:]
	}
	return [][2][]byte{
		{{0, 1 | 0x80}, row([]byte("ada@example.com"), []byte{0, 0, 0, 7})},
		{{0, 2 | 0x80, 3 | 0x80}, row(nil, bytes.Repeat([]byte{1}, 400), []byte{0, 1, 0, 0, 0, 0, 0, 2, 0, 42})},
		{{4 | 0x80}, row(make([]byte, 16))},
		{{0}, []byte{0, 1, 0xff, 0xff, 0xff, 0xfe}},
		{{0, 0}, []byte{0, 2, 0, 0, 0, 9, 'x'}},
		{bytes.Repeat([]byte{0}, 70), row(bytes.Repeat([]byte("v"), 70))},
	}
}

// sampleOIDs are the types FuzzSampleRow's shapes pick from.
var sampleOIDs = []uint32{25, 23, 17, 1700, 2950, 1184, 3802, 600, 16, 701}

// FuzzSampleRow feeds arbitrary DataRow bodies to a sample of a result of
// arbitrary columns: no panic, and the sample stays within its bounds.
func FuzzSampleRow(f *testing.F) {
	for _, s := range sampleRowSeeds() {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, shape, body []byte) {
		if len(shape) > 1600 {
			return
		}
		fields := make([]pgproto3.FieldDescription, len(shape))
		for i, b := range shape {
			fields[i] = pgproto3.FieldDescription{Name: []byte(strings.Repeat("c", i%300)), DataTypeOID: sampleOIDs[int(b&0x7f)%len(sampleOIDs)], Format: int16(b >> 7)}
		}
		sp := sampler{max: 3}
		a := &audited{recorded: true}
		sp.start(a, fields)
		for range 5 {
			if sp.wants() {
				sp.add(body)
			}
		}
		sp.done()
		s := a.sample
		if s == nil {
			return
		}
		if len(s.Rows) > 3 || len(s.Columns) > record.MaxSampleCols {
			t.Fatalf("%d rows, %d columns", len(s.Rows), len(s.Columns))
		}
		for _, r := range s.Rows {
			if len(r) != len(s.Columns) {
				t.Fatalf("a row of %d cells for %d columns", len(r), len(s.Columns))
			}
			for _, c := range r {
				if len(c) > record.MaxSampleCell {
					t.Fatalf("a cell of %d bytes", len(c))
				}
			}
		}
	})
}

// TestRecordingSampleLargeRow: a row too large to hold is relayed whole
// and ends the sample, which says it is cut.
func TestRecordingSampleLargeRow(t *testing.T) {
	big := strings.Repeat("b", 5000)
	store := openSampleStore(t, 5)
	e := newEnv(t, envOptions{records: store, pg: config.Postgres{MaxMessageSize: 4096}, fake: fakeOptions{handle: answer("SELECT big", "SELECT 3",
		rowDescription([]string{"v"}),
		&pgproto3.DataRow{Values: [][]byte{[]byte("a")}},
		&pgproto3.DataRow{Values: [][]byte{[]byte(big)}},
		&pgproto3.DataRow{Values: [][]byte{[]byte("c")}},
	)}})
	c, _ := e.connect(nil)
	runSteps(t, e, c, []step{q("SELECT big", "RowDescription", "DataRow a", "DataRow "+big, "DataRow c", "CommandComplete SELECT 3", "ReadyForQuery I")})
	c.terminate()
	s := column("v", "a")
	s.Cut = true
	checkSamples(t, samples(t, store, "sess-1"), []resultSample{{"query SELECT big", s}})
}
