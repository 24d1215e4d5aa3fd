package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/audit"
)

// nested reads a nested field of a decoded event, "" when absent.
func nested(ev map[string]any, keys ...string) string {
	var v any = ev
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// TestOCSFObjects: db.query and db.login events carry their OCSF objects
// beside the documented fields, mapped from the same values.
func TestOCSFObjects(t *testing.T) {
	e := newEnv(t, envOptions{})
	c, _ := e.connect(map[string]string{"user": "alice", "database": "app", "application_name": "nightly"})
	c.send(&pgproto3.Query{String: "SELECT 1"})
	c.untilReady()
	c.send(&pgproto3.Query{String: "DELETE FROM t WHERE id = 1"})
	c.untilReady()
	c.terminate()
	c.wait()

	type check struct{ path, want string }
	run := func(name string, ev map[string]any, checks []check) {
		t.Helper()
		for _, ck := range checks {
			if got := nested(ev, strings.Split(ck.path, ".")...); got != ck.want {
				t.Errorf("%s: %s = %q, want %q", name, ck.path, got, ck.want)
			}
		}
	}
	logins := e.audit.events(t, audit.DBLogin)
	queries := e.audit.events(t, audit.DBQuery)
	if len(logins) != 1 || len(queries) != 2 {
		t.Fatalf("%d db.login and %d db.query events", len(logins), len(queries))
	}
	run("db.login", logins[0], []check{
		{"ocsf.class_uid", "3002"}, {"ocsf.activity_id", "1"}, {"ocsf.type_uid", "300201"}, {"ocsf.status_id", "1"},
		{"ocsf.user.name", "alice"}, {"ocsf.service.name", testTarget}, {"ocsf.actor.user.name", testIdentity},
		{"ocsf.actor.app_name", "nightly"}, {"ocsf.actor.session.uid", "sess-1"}, {"ocsf.dst_endpoint.port", "5432"},
		{"ocsf.metadata.version", "1.3.0"}, {"ocsf.unmapped.database", "app"},
		// The documented fields are still there.
		{"user", "alice"}, {"outcome", "success"}, {"v", "1"},
	})
	run("allowed SELECT", queries[0], []check{
		{"ocsf.class_uid", "6005"}, {"ocsf.category_uid", "6"}, {"ocsf.activity_id", "4"}, {"ocsf.type_uid", "600504"},
		{"ocsf.severity_id", "1"}, {"ocsf.status_id", "1"}, {"ocsf.action_id", "1"}, {"ocsf.disposition_id", "1"},
		{"ocsf.query_info.query_string", "SELECT 1"}, {"ocsf.database.name", "app"}, {"ocsf.policy.name", testPolicyName},
		{"ocsf.policy.uid", testPolicyName + "/allow-rest"}, {"ocsf.policy.version", "v1"}, {"ocsf.unmapped.rows", "1"},
		{"ocsf.is_alert", "false"}, {"ocsf.actor.app_name", ""},
		{"statement", "SELECT 1"}, {"decision", "allow"}, {"rows", "1"},
	})
	run("denied DELETE", queries[1], []check{
		{"ocsf.activity_id", "7"}, {"ocsf.activity_name", "Delete"}, {"ocsf.severity_id", "3"}, {"ocsf.status_id", "2"},
		{"ocsf.action_id", "2"}, {"ocsf.disposition", "Blocked"}, {"ocsf.status_code", "42501"},
		{"ocsf.table.name", "public.t"}, {"ocsf.policy.desc", "delete statements are not allowed"}, {"ocsf.is_alert", "true"},
		{"decision", "deny"}, {"sqlstate", "42501"},
	})
	if nested(queries[0], "ocsf", "time") == "" || nested(queries[0], "time") == "" {
		t.Error("time or ocsf.time missing")
	}
}
