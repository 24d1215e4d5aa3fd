package target

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestMatch(t *testing.T) {
	cache := &Target{Name: "artifact-cache", Protocol: "tcp", Host: "127.0.0.3", Port: 8081}
	local := &Target{Name: "local-db", Protocol: "postgres", Host: "127.0.0.1", Port: 5432}
	db := &Target{Name: "orders-db", Protocol: "tcp", Host: "orders-db.internal", Port: 5432}
	v6 := &Target{Name: "v6", Protocol: "tcp", Host: "::1", Port: 9000}
	res := fakeResolver{"orders-db.internal": {netip.MustParseAddr("127.0.0.4"), netip.MustParseAddr("::1")}}
	tb := New([]*Target{cache, db, v6, local}, res)

	if got := tb.Match(netip.MustParseAddrPort("127.0.0.4:5432")); got != nil {
		t.Fatalf("named target matched before Refresh: %v", got.Name)
	}
	tb.Refresh(context.Background())
	cases := []struct {
		name string
		dst  string
		want *Target
	}{
		{"ip literal", "127.0.0.3:8081", cache},
		{"ipv4-mapped destination", "[::ffff:127.0.0.3]:8081", cache},
		{"resolved name", "127.0.0.4:5432", db},
		{"resolved name, v6 answer", "[::1]:5432", db},
		{"v6 literal", "[::1]:9000", v6},
		{"wrong port", "127.0.0.3:8082", nil},
		{"unknown address", "127.0.0.9:8081", nil},
		// connect(2) to an unspecified address reaches the loopback one.
		{"0.0.0.0 is 127.0.0.1", "0.0.0.0:5432", local},
		{":: is ::1", "[::]:9000", v6},
		{"mapped 0.0.0.0", "[::ffff:0.0.0.0]:5432", local},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tb.Match(netip.MustParseAddrPort(tc.dst)); got != tc.want {
				t.Errorf("Match(%s) = %v, want %v", tc.dst, got, tc.want)
			}
		})
	}

	// A failed refresh keeps the previous answer.
	delete(res, "orders-db.internal")
	var failed []string
	tb.OnError = func(t *Target, err error) { failed = append(failed, t.Name) }
	tb.Refresh(context.Background())
	if tb.Match(netip.MustParseAddrPort("127.0.0.4:5432")) != db {
		t.Error("failed lookup dropped the old addresses")
	}
	if len(failed) != 1 || failed[0] != "orders-db" {
		t.Errorf("OnError calls = %v", failed)
	}
}

func TestSeedKeepsResolvedAddresses(t *testing.T) {
	res := fakeResolver{"orders-db.internal": {netip.MustParseAddr("127.0.0.4")}}
	old := New([]*Target{{Name: "orders-db", Protocol: "tcp", Host: "orders-db.internal", Port: 5432}}, res)
	old.Refresh(context.Background())

	same := &Target{Name: "orders-db", Protocol: "tcp", Host: "orders-db.internal", Port: 5432}
	moved := &Target{Name: "reports", Protocol: "tcp", Host: "reports.internal", Port: 5432}
	next := New([]*Target{same, moved}, fakeResolver{})
	next.Seed(old)
	if got := next.Match(netip.MustParseAddrPort("127.0.0.4:5432")); got != same {
		t.Fatalf("seeded match = %v, want the unchanged target of the new table", got)
	}
	next.Refresh(context.Background()) // DNS down: the seeded address stays
	if got := next.Match(netip.MustParseAddrPort("127.0.0.4:5432")); got != same {
		t.Fatalf("after a failed refresh = %v", got)
	}
}
