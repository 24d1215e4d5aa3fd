package postgres

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/protocol"
)

func TestCancelRequest(t *testing.T) {
	fakeKey := pgproto3.CancelRequest{ProcessID: fakePID, SecretKey: []byte{0xde, 0xad, 0xbe, 0xef}}
	sameKey := func(k *pgproto3.BackendKeyData) pgproto3.CancelRequest {
		return pgproto3.CancelRequest{ProcessID: k.ProcessID, SecretKey: slices.Clone(k.SecretKey)}
	}
	tests := []struct {
		name     string
		session  func(s *protocol.Session) // changes the cancelling connection's session
		key      func(k *pgproto3.BackendKeyData) pgproto3.CancelRequest
		endFirst bool // the cancelled session ends before the cancel arrives
		routed   bool
		reason   string // db.cancel reason when refused
	}{
		{
			name:   "same key, identity and destination",
			key:    sameKey,
			routed: true,
		},
		{
			name: "wrong secret",
			key: func(k *pgproto3.BackendKeyData) pgproto3.CancelRequest {
				r := sameKey(k)
				r.SecretKey[3] ^= 1
				return r
			},
			reason: "unknown cancel key",
		},
		{
			name: "wrong process id",
			key: func(k *pgproto3.BackendKeyData) pgproto3.CancelRequest {
				r := sameKey(k)
				r.ProcessID ^= 1
				return r
			},
			reason: "unknown cancel key",
		},
		{
			name:   "the server's own key",
			key:    func(*pgproto3.BackendKeyData) pgproto3.CancelRequest { return fakeKey },
			reason: "unknown cancel key",
		},
		{
			name: "longer secret",
			key: func(k *pgproto3.BackendKeyData) pgproto3.CancelRequest {
				r := sameKey(k)
				r.SecretKey = append(r.SecretKey, 0, 0, 0, 0)
				return r
			},
			reason: "unknown cancel key",
		},
		{
			name:    "another identity",
			session: func(s *protocol.Session) { s.Identity = "intruder" },
			key:     sameKey,
			reason:  `the session belongs to identity "etl"`,
		},
		{
			name:    "another destination",
			session: func(s *protocol.Session) { s.Dst = netip.MustParseAddrPort("127.0.0.2:5432") },
			key:     sameKey,
			reason:  "sent to 127.0.0.2:5432, the session's destination is 127.0.0.1:5432",
		},
		{
			name:     "session already ended",
			key:      sameKey,
			endFirst: true,
			reason:   "unknown cancel key",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			c, _ := e.connect(nil)
			if c.key == nil {
				t.Fatal("no BackendKeyData at login")
			}
			if c.key.ProcessID == fakePID || bytes.Equal(c.key.SecretKey, fakeKey.SecretKey) {
				t.Fatalf("the client got the server's key %d/%x", c.key.ProcessID, c.key.SecretKey)
			}
			if len(c.key.SecretKey) != 4 || c.key.ProcessID == 0 {
				t.Fatalf("client key %d/%x", c.key.ProcessID, c.key.SecretKey)
			}
			if n := e.cancels.Len(); n != 1 {
				t.Errorf("%d cancellable sessions, want 1", n)
			}
			if tt.endFirst {
				c.terminate()
				if n := e.cancels.Len(); n != 0 {
					t.Errorf("%d cancellable sessions after the end, want 0", n)
				}
			}
			dials := e.fake.dialCount()

			s := testSession("sess-cancel")
			if tt.session != nil {
				tt.session(s)
			}
			cc := e.serve(s)
			req := tt.key(c.key)
			b, err := req.Encode(nil)
			if err != nil {
				t.Fatal(err)
			}
			cc.sendRaw(b)
			if more := cc.untilClosed(); len(more.msgs) != 0 {
				t.Errorf("the cancelling client received %v", more.msgs)
			}
			if r := cc.wait(); r.err != nil {
				t.Errorf("Serve: %v", r.err)
			}

			got := e.fake.cancelRequests()
			if tt.routed {
				if len(got) != 1 || got[0].ProcessID != fakeKey.ProcessID || !bytes.Equal(got[0].SecretKey, fakeKey.SecretKey) {
					t.Errorf("server got cancel requests %+v, want its own key %+v", got, fakeKey)
				}
				checkEvents(t, e.audit.events(t, audit.DBCancel), []fields{{"outcome": "routed", "cancelled_session": "sess-1", "session": "sess-cancel", "reason": "-"}})
				return
			}
			if len(got) != 0 {
				t.Errorf("server got cancel requests %+v", got)
			}
			if n := e.fake.dialCount(); n != dials {
				t.Errorf("the upstream was dialed %d times for a refused cancel", n-dials)
			}
			checkEvents(t, e.audit.events(t, audit.DBCancel), []fields{{"outcome": "refused", "reason": tt.reason}})
		})
	}
}

// TestCancelKeysAreDistinct: every session gets its own key.
func TestCancelKeysAreDistinct(t *testing.T) {
	e := newEnv(t, envOptions{})
	seen := map[uint64]bool{}
	for i := 0; i < 5; i++ {
		c, _ := e.connect(nil)
		k := uint64(c.key.ProcessID)<<32 | uint64(binary.BigEndian.Uint32(c.key.SecretKey))
		if seen[k] {
			t.Fatalf("key %x handed out twice", k)
		}
		seen[k] = true
	}
	if n := e.cancels.Len(); n != 5 {
		t.Errorf("%d cancellable sessions, want 5", n)
	}
}
