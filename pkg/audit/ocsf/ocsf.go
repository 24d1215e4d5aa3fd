// Package ocsf maps sluice's database events onto classes of the Open
// Cybersecurity Schema Framework (OCSF, https://schema.ocsf.io), version
// Version: db.query onto Datastore Activity (class 6005) and db.login onto
// Authentication (class 3002). The mapping is written as an `ocsf` object
// inside the event, beside sluice's own fields, which keep their names and
// meaning: a consumer that wants OCSF takes that object as the event.
// docs/events.md lists every field.
//
// db.query events are written for every statement, so the mapping is
// written from fragments rendered ahead of time: the session's shared
// objects once per session (Context), the class, activity and enumeration
// captions once per value (enums.go). Only the event's own values are
// encoded per event.
package ocsf

import (
	"encoding/json"
	"net/netip"
	"os"
	"path"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Version is the OCSF schema version the objects follow.
const Version = "1.3.0"

var (
	productVersion atomic.Pointer[string]
	hostname       = func() string { h, _ := os.Hostname(); return h }()
	now            = time.Now // tests fix it
)

// SetProductVersion sets metadata.product.version (sluiced's version).
func SetProductVersion(v string) { productVersion.Store(&v) }

// Actor is who sent the statement or logged in: the process the kernel
// attributed the connection to, and the identity it carries.
type Actor struct {
	Identity string
	Session  string
	PID      uint32
	UID, GID uint32
	Comm     string
	Exe      string
	Cgroup   string
	Unit     string
	// App is the client's application_name, when it sent one.
	App string
}

// Endpoint is one end of the connection: an address, and for the
// destination the target's name.
type Endpoint struct {
	Addr netip.AddrPort
	Name string
}

// Decision is what sluice decided about a statement, for the security
// control fields.
type Decision struct {
	// Blocked: sluice refused it (a policy, or the inspector itself,
	// such as for a recording that failed); otherwise it was forwarded.
	Blocked bool
	// Approved: it was forwarded after an approval.
	Approved bool
	// Shadow: a shadow policy would have decided more strictly.
	Shadow        bool
	Policy, Rule  string
	PolicyVersion string
	Reason        string
}

// Context is what the mapped events of one session share, rendered once
// when the session starts.
type Context struct {
	// shared is the value of "metadata" followed by the members device,
	// actor, src_endpoint and dst_endpoint; controlled is the same for
	// events with the security control profile.
	shared, controlled []byte
	// database is the value of "type_id" followed by type and database
	// (Datastore Activity).
	database []byte
	dbName   string
	cgroup   string
	unit     string
}

// NewContext renders the shared objects of a session's events: who (a),
// from and to where, and the database it is logged in to.
func NewContext(a *Actor, src, dst Endpoint, database string) *Context {
	product := map[string]string{"name": "sluice", "vendor_name": "sluice"}
	if v := productVersion.Load(); v != nil {
		product["version"] = *v
	}
	meta := func(profiles ...string) []byte {
		return marshal(map[string]any{"version": Version, "product": product, "profiles": profiles, "correlation_uid": a.Session})
	}
	rest := member(nil, "device", map[string]any{"hostname": hostname, "type_id": 1, "type": "Server"})
	rest = member(rest, "actor", actorJSON(a))
	if src.Addr.IsValid() {
		rest = member(rest, "src_endpoint", endpointJSON(src))
	}
	if dst.Addr.IsValid() {
		rest = member(rest, "dst_endpoint", endpointJSON(dst))
	}
	db := member([]byte(`1,"type":"Database"`), "database", map[string]any{"name": database, "type_id": 1, "type": "Relational"})
	return &Context{
		shared: append(meta("host"), rest...), controlled: append(meta("host", "security_control"), rest...),
		database: db, dbName: database, cgroup: a.Cgroup, unit: a.Unit,
	}
}

// member appends `,"key":` and v in JSON to b.
func member(b []byte, key string, v any) []byte {
	b = append(append(append(b, `,"`...), key...), `":`...)
	return append(b, marshal(v)...)
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	return b
}

func actorJSON(a *Actor) map[string]any {
	proc := map[string]any{
		"pid": a.PID, "name": a.Comm,
		"user": map[string]any{
			"uid":    strconv.FormatUint(uint64(a.UID), 10),
			"groups": []map[string]string{{"uid": strconv.FormatUint(uint64(a.GID), 10)}},
		},
	}
	if a.Exe != "" {
		proc["file"] = map[string]any{"path": a.Exe, "name": path.Base(a.Exe), "type_id": 1, "type": "Regular File"}
	}
	m := map[string]any{
		"user": map[string]string{"name": a.Identity}, "process": proc, "session": map[string]string{"uid": a.Session},
	}
	if a.App != "" {
		m["app_name"] = a.App
	}
	return m
}

func endpointJSON(e Endpoint) map[string]any {
	m := map[string]any{"ip": e.Addr.Addr().Unmap().String(), "port": e.Addr.Port()}
	if e.Name != "" {
		m["svc_name"] = e.Name
	}
	return m
}

// common writes the members every mapped event starts with: class,
// category, activity and type, severity, status, time, and the session's
// shared objects. Each RawJSON writes a key and a pre-rendered run: the
// key's value followed by the members that go with it.
func (c *Context) common(d *zerolog.Event, act *activity, severity, status int, controlled bool) *zerolog.Event {
	shared := c.shared
	if controlled {
		shared = c.controlled
	}
	return d.RawJSON("class_uid", act.fragment).
		RawJSON("severity_id", severities[severity]).
		RawJSON("status_id", statuses[status]).
		Int64("time", now().UnixMilli()).
		RawJSON("metadata", shared)
}

// withUnmapped adds the attribution OCSF has no field for.
func (c *Context) withUnmapped(u *zerolog.Event) *zerolog.Event {
	u = u.Str("cgroup", c.cgroup)
	if c.unit != "" {
		u = u.Str("unit", c.unit)
	}
	return u
}

// security writes the security-control profile's fields: the action and
// disposition, the policy that decided, and is_alert.
func security(d *zerolog.Event, dec *Decision) *zerolog.Event {
	switch {
	case dec.Blocked:
		d = d.RawJSON("action_id", blocked)
	case dec.Approved:
		d = d.RawJSON("action_id", approved)
	default:
		d = d.RawJSON("action_id", allowed)
	}
	if dec.Policy != "" {
		p := zerolog.Dict().Str("name", dec.Policy).Str("uid", dec.Policy+"/"+dec.Rule)
		if dec.PolicyVersion != "" {
			p = p.Str("version", dec.PolicyVersion)
		}
		if dec.Reason != "" {
			p = p.Str("desc", dec.Reason)
		}
		d = d.Dict("policy", p)
	}
	return d.Bool("is_alert", dec.Blocked || dec.Shadow)
}
