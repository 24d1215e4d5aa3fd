package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// transport is how a test connects two ends.
type transport int

const (
	// overTCP is a loopback TCP connection: kernel buffers, and a
	// loopback peer address.
	overTCP transport = iota
	// overPipe is net.Pipe: synchronous, no address. Cheap, for fuzzing.
	overPipe
)

// connPair returns two connected ends.
func connPair(tb testing.TB, tr transport) (net.Conn, net.Conn) {
	tb.Helper()
	if tr == overPipe {
		return net.Pipe()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	a, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	r := <-ch
	if r.err != nil {
		a.Close()
		tb.Fatalf("accept: %v", r.err)
	}
	return a, r.c
}

// fakeAuth is the authentication the fake server asks for.
type fakeAuth int

const (
	authTrust fakeAuth = iota
	authCleartext
	authMD5
	authSCRAM
	authGSS // unsupported by the inspector
)

// fakeOptions configure a fake PostgreSQL server.
type fakeOptions struct {
	auth fakeAuth
	// mechanisms are the SASL mechanisms offered (default SCRAM-SHA-256).
	mechanisms []string
	// user and password are the role the password methods accept; an
	// empty user accepts any name.
	user, password string
	// pid and secret are the server's BackendKeyData.
	pid    uint32
	secret []byte
	// afterAuth, when set, is sent after AuthenticationOk in place of
	// the session (database does not exist, too many connections).
	afterAuth *pgproto3.ErrorResponse
	// handle, when set, may answer a simple query itself (writing raw
	// bytes to conn) and return true.
	handle func(conn net.Conn, query string) bool
	// transport is how the inspector reaches the fake.
	transport transport
	// maxBody bounds the messages the fake accepts (0: 16 MiB).
	maxBody int
	// params are more ParameterStatus values reported at login.
	params map[string]string
}

// fakeServer is an in-process PostgreSQL server good enough for the
// inspector's unit tests: it authenticates, then answers the simple and
// extended protocols as PostgreSQL does (errors, skipping to Sync,
// transaction status), with canned results. It records what it receives.
type fakeServer struct {
	tb   testing.TB
	opts fakeOptions
	wg   sync.WaitGroup

	mu        sync.Mutex
	dials     int
	conns     []net.Conn
	startups  []*pgproto3.StartupMessage
	cancels   []pgproto3.CancelRequest
	passwords []string // PasswordMessage contents (cleartext, md5)
	log       []string // every message after the startup packet, summarized
}

const (
	fakePID    = 4242
	fakeSecret = 0xdeadbeef
)

func newFake(tb testing.TB, opts fakeOptions) *fakeServer {
	if opts.pid == 0 {
		opts.pid = fakePID
	}
	if opts.secret == nil {
		opts.secret = []byte{0xde, 0xad, 0xbe, 0xef}
	}
	if opts.mechanisms == nil {
		opts.mechanisms = []string{"SCRAM-SHA-256"}
	}
	if opts.maxBody == 0 {
		opts.maxBody = 16 << 20
	}
	f := &fakeServer{tb: tb, opts: opts}
	tb.Cleanup(f.close)
	return f
}

// dial is the protocol.Dialer of the fake: every call is a new backend.
func (f *fakeServer) dial(ctx context.Context) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	client, server := connPair(f.tb, f.opts.transport)
	f.mu.Lock()
	f.dials++
	f.conns = append(f.conns, client, server)
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer server.Close()
		f.serve(server)
	}()
	return client, nil
}

// close ends every connection and waits for the backends.
func (f *fakeServer) close() {
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		f.tb.Errorf("fake server: backends still running 10s after close")
	}
}

func (f *fakeServer) record(entry string) {
	f.mu.Lock()
	f.log = append(f.log, entry)
	f.mu.Unlock()
}

// received returns the messages received so far, summarized.
func (f *fakeServer) received() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

// resetLog forgets the messages received so far.
func (f *fakeServer) resetLog() {
	f.mu.Lock()
	f.log = nil
	f.mu.Unlock()
}

func (f *fakeServer) dialCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials
}

func (f *fakeServer) startupParams() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]string
	for _, s := range f.startups {
		out = append(out, s.Parameters)
	}
	return out
}

func (f *fakeServer) startupVersions() []uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []uint32
	for _, s := range f.startups {
		out = append(out, s.ProtocolVersion)
	}
	return out
}

func (f *fakeServer) cancelRequests() []pgproto3.CancelRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pgproto3.CancelRequest(nil), f.cancels...)
}

func (f *fakeServer) passwordMessages() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.passwords...)
}

// fakeSession is one backend of the fake server.
type fakeSession struct {
	f       *fakeServer
	conn    net.Conn
	be      *pgproto3.Backend
	tx      byte // 'I', 'T' or 'E'
	skip    bool // after an error in the extended protocol: ignore until Sync
	stmts   map[string]string
	portals map[string]*fakePortal
}

type fakePortal struct {
	query string
	res   *fakeResult // run at the first Execute
	sent  int         // rows already sent (a suspended portal)
}

func (f *fakeServer) serve(conn net.Conn) {
	be := pgproto3.NewBackend(conn, conn)
	be.SetMaxBodyLen(f.opts.maxBody)
	msg, err := be.ReceiveStartupMessage()
	if err != nil {
		return
	}
	switch m := msg.(type) {
	case *pgproto3.CancelRequest:
		f.mu.Lock()
		f.cancels = append(f.cancels, pgproto3.CancelRequest{ProcessID: m.ProcessID, SecretKey: append([]byte(nil), m.SecretKey...)})
		f.mu.Unlock()
		return
	case *pgproto3.StartupMessage:
		f.mu.Lock()
		f.startups = append(f.startups, &pgproto3.StartupMessage{ProtocolVersion: m.ProtocolVersion, Parameters: maps.Clone(m.Parameters)})
		f.mu.Unlock()
	default:
		return // the inspector talks plain TCP to the fake
	}
	s := &fakeSession{f: f, conn: conn, be: be, tx: 'I', stmts: map[string]string{}, portals: map[string]*fakePortal{}}
	user := msg.(*pgproto3.StartupMessage).Parameters["user"]
	if !s.authenticate(user) {
		return
	}
	s.be.Send(&pgproto3.AuthenticationOk{})
	if e := f.opts.afterAuth; e != nil {
		s.be.Send(e)
		_ = s.be.Flush()
		return
	}
	s.be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "17.2"})
	s.be.Send(&pgproto3.ParameterStatus{Name: "client_encoding", Value: "UTF8"})
	for _, k := range slices.Sorted(maps.Keys(f.opts.params)) {
		s.be.Send(&pgproto3.ParameterStatus{Name: k, Value: f.opts.params[k]})
	}
	s.be.Send(&pgproto3.BackendKeyData{ProcessID: f.opts.pid, SecretKey: f.opts.secret})
	s.be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if s.be.Flush() != nil {
		return
	}
	s.loop()
}

// fatal sends a FATAL error; the caller ends the backend.
func (s *fakeSession) fatal(code, msg string) {
	s.be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg})
	_ = s.be.Flush()
}

// receive reads a message during authentication.
func (s *fakeSession) receive(authType uint32) (pgproto3.FrontendMessage, bool) {
	if err := s.be.Flush(); err != nil {
		return nil, false
	}
	_ = s.be.SetAuthType(authType)
	msg, err := s.be.Receive()
	if err != nil {
		return nil, false
	}
	return msg, true
}

func (s *fakeSession) authFailed(user string) {
	s.fatal("28P01", fmt.Sprintf("password authentication failed for user %q", user))
}

// authenticate runs the configured exchange; false ends the backend.
func (s *fakeSession) authenticate(user string) bool {
	opts := s.f.opts
	// PostgreSQL does not reveal whether the role exists: an unknown
	// user fails like a wrong password, after the exchange.
	knownUser := opts.user == "" || user == opts.user
	switch opts.auth {
	case authTrust:
		return true
	case authGSS:
		s.be.Send(&pgproto3.AuthenticationGSS{})
		_, _ = s.receive(pgproto3.AuthTypeGSS)
		return false
	case authCleartext, authMD5:
		want := opts.password
		if opts.auth == authCleartext {
			s.be.Send(&pgproto3.AuthenticationCleartextPassword{})
		} else {
			var salt [4]byte
			_, _ = rand.Read(salt[:])
			s.be.Send(&pgproto3.AuthenticationMD5Password{Salt: salt})
			want = fakeMD5(user, opts.password, salt)
		}
		msg, ok := s.receive(pgproto3.AuthTypeCleartextPassword)
		if !ok {
			return false
		}
		pm, ok := msg.(*pgproto3.PasswordMessage)
		if !ok {
			s.fatal("08P01", fmt.Sprintf("expected password response, got message type %T", msg))
			return false
		}
		s.f.mu.Lock()
		s.f.passwords = append(s.f.passwords, pm.Password)
		s.f.mu.Unlock()
		if !knownUser || pm.Password != want {
			s.authFailed(user)
			return false
		}
		return true
	case authSCRAM:
		return s.scram(user, knownUser)
	}
	panic("unknown fake auth")
}

// fakeMD5 is PostgreSQL's md5 password answer.
func fakeMD5(user, password string, salt [4]byte) string {
	inner := md5.Sum([]byte(password + user))
	outer := md5.Sum(append([]byte(hex.EncodeToString(inner[:])), salt[:]...))
	return "md5" + hex.EncodeToString(outer[:])
}

const fakeSCRAMIterations = 4096

// scram runs the server side of SCRAM-SHA-256 without channel binding
// (RFC 5802, RFC 7677) and checks the client's proof.
func (s *fakeSession) scram(user string, knownUser bool) bool {
	s.be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: s.f.opts.mechanisms})
	msg, ok := s.receive(pgproto3.AuthTypeSASL)
	if !ok {
		return false
	}
	init, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || init.AuthMechanism != "SCRAM-SHA-256" {
		s.fatal("28000", fmt.Sprintf("client selected an invalid SASL authentication mechanism (%T)", msg))
		return false
	}
	bare, ok := strings.CutPrefix(string(init.Data), "n,,")
	if !ok {
		s.fatal("08P01", "malformed SCRAM message (channel binding flag)")
		return false
	}
	clientNonce := scramAttr(bare, "r")
	if clientNonce == "" {
		s.fatal("08P01", "malformed SCRAM message (nonce)")
		return false
	}
	var salt, nonce [16]byte
	_, _ = rand.Read(salt[:])
	_, _ = rand.Read(nonce[:])
	fullNonce := clientNonce + base64.RawStdEncoding.EncodeToString(nonce[:])
	serverFirst := fmt.Sprintf("r=%s,s=%s,i=%d", fullNonce, base64.StdEncoding.EncodeToString(salt[:]), fakeSCRAMIterations)
	s.be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})
	msg, ok = s.receive(pgproto3.AuthTypeSASLContinue)
	if !ok {
		return false
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		s.fatal("08P01", fmt.Sprintf("expected SASL response, got %T", msg))
		return false
	}
	withoutProof, proof64, ok := strings.Cut(string(resp.Data), ",p=")
	if !ok || withoutProof != "c=biws,r="+fullNonce {
		s.fatal("08P01", "malformed SCRAM message (final)")
		return false
	}
	authMessage := bare + "," + serverFirst + "," + withoutProof
	salted, err := pbkdf2.Key(sha256.New, s.f.opts.password, salt[:], fakeSCRAMIterations, sha256.Size)
	if err != nil {
		panic(err)
	}
	clientKey := fakeHMAC(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	sig := fakeHMAC(stored[:], authMessage)
	proof, err := base64.StdEncoding.DecodeString(proof64)
	if err != nil || len(proof) != len(sig) {
		s.fatal("08P01", "malformed SCRAM message (proof)")
		return false
	}
	for i := range proof {
		proof[i] ^= sig[i]
	}
	if got := sha256.Sum256(proof); !knownUser || !hmac.Equal(got[:], stored[:]) {
		s.authFailed(user)
		return false
	}
	serverSig := fakeHMAC(fakeHMAC(salted, "Server Key"), authMessage)
	s.be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte("v=" + base64.StdEncoding.EncodeToString(serverSig))})
	return true
}

func fakeHMAC(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// scramAttr returns attribute name of a SCRAM message.
func scramAttr(msg, name string) string {
	for _, kv := range strings.Split(msg, ",") {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// loop answers requests until the connection ends.
func (s *fakeSession) loop() {
	for {
		msg, err := s.be.Receive()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
				s.fatal("08P01", "invalid message: "+err.Error())
			}
			return
		}
		s.f.record(summarizeFrontend(msg))
		if _, ok := msg.(*pgproto3.Terminate); ok {
			return
		}
		if _, ok := msg.(*pgproto3.Sync); ok {
			s.skip = false
			s.be.Send(&pgproto3.ReadyForQuery{TxStatus: s.tx})
			if s.be.Flush() != nil {
				return
			}
			continue
		}
		if s.skip {
			continue // PostgreSQL ignores every message until Sync
		}
		switch m := msg.(type) {
		case *pgproto3.Query:
			if h := s.f.opts.handle; h != nil {
				if s.be.Flush() != nil {
					return
				}
				if h(s.conn, m.String) {
					continue
				}
			}
			s.query(m.String)
			s.be.Send(&pgproto3.ReadyForQuery{TxStatus: s.tx})
			if s.be.Flush() != nil {
				return
			}
		case *pgproto3.Parse:
			s.parse(m.Name, m.Query)
		case *pgproto3.Bind:
			s.bind(m.DestinationPortal, m.PreparedStatement)
		case *pgproto3.Describe:
			s.describe(m.ObjectType, m.Name)
		case *pgproto3.Execute:
			s.execute(m.Portal, int(m.MaxRows))
		case *pgproto3.Close:
			if m.ObjectType == 'S' {
				delete(s.stmts, m.Name)
			} else {
				delete(s.portals, m.Name)
			}
			s.be.Send(&pgproto3.CloseComplete{})
		case *pgproto3.Flush:
			if s.be.Flush() != nil {
				return
			}
		case *pgproto3.FunctionCall:
			s.fail("42883", "the fake server has no functions", false)
			s.be.Send(&pgproto3.ReadyForQuery{TxStatus: s.tx})
			if s.be.Flush() != nil {
				return
			}
		case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
			// Ignored outside COPY, as by PostgreSQL.
		default:
			s.fatal("08P01", fmt.Sprintf("invalid frontend message %T", msg))
			return
		}
	}
}

// summarizeFrontend names a message for the fake's log.
func summarizeFrontend(msg pgproto3.FrontendMessage) string {
	switch m := msg.(type) {
	case *pgproto3.Query:
		return "Q " + m.String
	case *pgproto3.Parse:
		return fmt.Sprintf("P(%s) %s", m.Name, m.Query)
	case *pgproto3.Bind:
		return fmt.Sprintf("B(%s,%s)", m.DestinationPortal, m.PreparedStatement)
	case *pgproto3.Describe:
		return fmt.Sprintf("D(%c %s)", m.ObjectType, m.Name)
	case *pgproto3.Execute:
		return fmt.Sprintf("E(%s)", m.Portal)
	case *pgproto3.Close:
		return fmt.Sprintf("C(%c %s)", m.ObjectType, m.Name)
	case *pgproto3.Sync:
		return "S"
	case *pgproto3.Flush:
		return "H"
	case *pgproto3.Terminate:
		return "X"
	case *pgproto3.CopyData:
		return "d " + string(m.Data)
	case *pgproto3.CopyDone:
		return "c"
	case *pgproto3.CopyFail:
		return "f " + m.Message
	case *pgproto3.FunctionCall:
		return "F"
	}
	return fmt.Sprintf("%T", msg)
}

// fail sends an error; in the extended protocol the server then skips to
// Sync. An error inside a transaction block aborts it.
func (s *fakeSession) fail(code, msg string, extended bool) {
	s.be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: code, Message: msg})
	if s.tx == 'T' {
		s.tx = 'E'
	}
	if extended {
		s.skip = true
	}
}

// fakeResult is the outcome of running one statement.
type fakeResult struct {
	empty   bool
	cols    []string
	rows    []string
	tag     string
	errCode string
	errMsg  string
}

// verb is the statement's first keyword, upper case.
func verb(stmt string) string {
	f := strings.Fields(stmt)
	if len(f) == 0 {
		return ""
	}
	return strings.ToUpper(f[0])
}

// fakeSyntax checks a statement as the parser would; it returns an
// error code and message, or "".
func fakeSyntax(stmt string) (string, string) {
	if strings.Contains(stmt, deniedText) {
		return "42601", fmt.Sprintf("syntax error at or near %q", deniedText)
	}
	switch verb(stmt) {
	case "", "SELECT", "VALUES", "INSERT", "UPDATE", "DELETE", "BEGIN", "START", "COMMIT", "END",
		"ROLLBACK", "ABORT", "SET", "SHOW", "CREATE", "DROP", "TRUNCATE":
		return "", ""
	}
	return "42601", fmt.Sprintf("syntax error at or near %q", strings.Fields(stmt)[0])
}

// fakeAnalyze checks the names a statement uses: the relation "missing"
// does not exist.
func fakeAnalyze(stmt string) (string, string) {
	if strings.Contains(strings.ToLower(stmt), "missing") {
		return "42P01", `relation "missing" does not exist`
	}
	return "", ""
}

func txControl(stmt string) bool {
	switch verb(stmt) {
	case "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT":
		return true
	}
	return false
}

func returnsRows(stmt string) bool {
	switch verb(stmt) {
	case "SELECT", "VALUES", "SHOW":
		return true
	}
	return false
}

// run executes a statement that parsed.
func (s *fakeSession) run(stmt string) fakeResult {
	if s.tx == 'E' && !txControl(stmt) {
		return fakeResult{errCode: "25P02", errMsg: "current transaction is aborted, commands ignored until end of transaction block"}
	}
	if code, msg := fakeAnalyze(stmt); code != "" {
		return fakeResult{errCode: code, errMsg: msg}
	}
	switch verb(stmt) {
	case "":
		return fakeResult{empty: true}
	case "BEGIN", "START":
		if s.tx == 'I' {
			s.tx = 'T'
		}
		return fakeResult{tag: "BEGIN"}
	case "COMMIT", "END":
		tag := "COMMIT"
		if s.tx == 'E' {
			tag = "ROLLBACK"
		}
		s.tx = 'I'
		return fakeResult{tag: tag}
	case "ROLLBACK", "ABORT":
		s.tx = 'I'
		return fakeResult{tag: "ROLLBACK"}
	case "SELECT", "VALUES":
		if strings.Contains(stmt, "1/0") {
			return fakeResult{errCode: "22012", errMsg: "division by zero"}
		}
		f := strings.Fields(stmt)
		if len(f) == 2 {
			if _, err := strconv.Atoi(f[1]); err == nil {
				return fakeResult{cols: []string{"?column?"}, rows: []string{f[1]}, tag: "SELECT 1"}
			}
		}
		return fakeResult{cols: []string{"n"}, rows: []string{"1", "2", "3"}, tag: "SELECT 3"}
	case "SHOW":
		return fakeResult{cols: []string{"search_path"}, rows: []string{"public"}, tag: "SHOW"}
	case "INSERT":
		return fakeResult{tag: "INSERT 0 1"}
	case "UPDATE":
		return fakeResult{tag: "UPDATE 2"}
	case "DELETE":
		return fakeResult{tag: "DELETE 4"}
	case "SET":
		return fakeResult{tag: "SET"}
	case "CREATE":
		return fakeResult{tag: "CREATE TABLE"}
	case "DROP":
		return fakeResult{tag: "DROP TABLE"}
	case "TRUNCATE":
		return fakeResult{tag: "TRUNCATE TABLE"}
	}
	panic("fakeSyntax let through " + stmt)
}

func rowDescription(cols []string) *pgproto3.RowDescription {
	rd := &pgproto3.RowDescription{}
	for _, c := range cols {
		rd.Fields = append(rd.Fields, pgproto3.FieldDescription{Name: []byte(c), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1})
	}
	return rd
}

// query answers a simple query (without the ReadyForQuery): the whole
// string is parsed first, then the statements run in order until one
// fails.
func (s *fakeSession) query(q string) {
	var stmts []string
	for _, st := range strings.Split(q, ";") {
		if st = strings.TrimSpace(st); st != "" {
			stmts = append(stmts, st)
		}
	}
	if len(stmts) == 0 {
		s.be.Send(&pgproto3.EmptyQueryResponse{})
		return
	}
	for _, st := range stmts {
		if code, msg := fakeSyntax(st); code != "" {
			s.fail(code, msg, false)
			return
		}
	}
	for _, st := range stmts {
		res := s.run(st)
		if res.errCode != "" {
			s.fail(res.errCode, res.errMsg, false)
			return
		}
		if res.cols != nil {
			s.be.Send(rowDescription(res.cols))
		}
		for _, r := range res.rows {
			s.be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte(r)}})
		}
		s.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(res.tag)})
	}
}

func (s *fakeSession) parse(name, q string) {
	if name == "" {
		delete(s.stmts, "") // even if the new one fails
	} else if _, ok := s.stmts[name]; ok {
		s.fail("42P05", fmt.Sprintf("prepared statement %q already exists", name), true)
		return
	}
	if strings.Count(strings.TrimRight(strings.TrimSpace(q), ";"), ";") > 0 {
		s.fail("42601", "cannot insert multiple commands into a prepared statement", true)
		return
	}
	q = strings.TrimRight(strings.TrimSpace(q), ";")
	if code, msg := fakeSyntax(q); code != "" {
		s.fail(code, msg, true)
		return
	}
	if s.tx == 'E' && !txControl(q) {
		s.fail("25P02", "current transaction is aborted, commands ignored until end of transaction block", true)
		return
	}
	if code, msg := fakeAnalyze(q); code != "" {
		s.fail(code, msg, true)
		return
	}
	s.stmts[name] = q
	s.be.Send(&pgproto3.ParseComplete{})
}

func (s *fakeSession) bind(portal, stmt string) {
	q, ok := s.stmts[stmt]
	if !ok {
		s.fail("26000", fmt.Sprintf("prepared statement %q does not exist", stmt), true)
		return
	}
	if s.tx == 'E' && !txControl(q) {
		s.fail("25P02", "current transaction is aborted, commands ignored until end of transaction block", true)
		return
	}
	s.portals[portal] = &fakePortal{query: q}
	s.be.Send(&pgproto3.BindComplete{})
}

func (s *fakeSession) describe(kind byte, name string) {
	var q string
	switch kind {
	case 'S':
		var ok bool
		if q, ok = s.stmts[name]; !ok {
			s.fail("26000", fmt.Sprintf("prepared statement %q does not exist", name), true)
			return
		}
		s.be.Send(&pgproto3.ParameterDescription{})
	default:
		p, ok := s.portals[name]
		if !ok {
			s.fail("34000", fmt.Sprintf("portal %q does not exist", name), true)
			return
		}
		q = p.query
	}
	if returnsRows(q) {
		s.be.Send(rowDescription([]string{"n"}))
	} else {
		s.be.Send(&pgproto3.NoData{})
	}
}

func (s *fakeSession) execute(name string, maxRows int) {
	p, ok := s.portals[name]
	if !ok {
		s.fail("34000", fmt.Sprintf("portal %q does not exist", name), true)
		return
	}
	if p.res == nil {
		res := s.run(p.query)
		p.res = &res
	}
	res := p.res
	if res.errCode != "" {
		s.fail(res.errCode, res.errMsg, true)
		return
	}
	if res.empty {
		s.be.Send(&pgproto3.EmptyQueryResponse{})
		return
	}
	rows := res.rows[p.sent:]
	if maxRows > 0 && len(rows) > maxRows {
		for _, r := range rows[:maxRows] {
			s.be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte(r)}})
		}
		p.sent += maxRows
		s.be.Send(&pgproto3.PortalSuspended{})
		return
	}
	for _, r := range rows {
		s.be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte(r)}})
	}
	p.sent += len(rows)
	tag := res.tag
	if res.cols != nil && verb(p.query) != "SHOW" {
		tag = fmt.Sprintf("SELECT %d", len(rows))
	}
	s.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
}
