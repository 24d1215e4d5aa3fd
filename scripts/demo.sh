#!/usr/bin/env bash
# sluice demo: a throwaway PostgreSQL on loopback, sluiced with a demo
# configuration, and a legacy job — a plain psql script with a hard-coded
# password, unchanged — run under a tagged identity. Every connection the job
# makes goes through sluice and is attributed; what the identity may not
# reach is refused. Everything created here is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (eBPF and cgroups): sudo make demo" >&2
	exit 1
fi

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
CG2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$CG2" ] || { echo "demo: no cgroup2 mount" >&2; exit 1; }

WORK=$(mktemp -d /tmp/sluice-demo.XXXXXX)
chmod 0755 "$WORK"
CGROOT="/sluice-demo-$$"
BPFFS="$WORK/bpffs"
DB_ADDR=127.0.0.2
free_port() { python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$1"; }
DB_PORT=$(free_port $DB_ADDR)
PROXY_PORT=$(free_port 127.0.0.1)
SLUICED_PID=""

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
	set +e
	if [ -n "$SLUICED_PID" ] && kill -0 "$SLUICED_PID" 2>/dev/null; then
		kill -TERM "$SLUICED_PID"; wait "$SLUICED_PID" 2>/dev/null
	fi
	[ -d "$BPFFS/sluice" ] && bin/sluice detach --pin-dir "$BPFFS/sluice" >/dev/null
	mountpoint -q "$BPFFS" && umount "$BPFFS"
	[ -f "$WORK/pg/postmaster.pid" ] && su postgres -c "$PGBIN/pg_ctl -D $WORK/pg -m fast -w stop" >/dev/null
	if [ -d "$CG2$CGROOT" ]; then
		find "$CG2$CGROOT" -depth -type d -exec rmdir {} \; 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

say "PostgreSQL 'orders' on $DB_ADDR:$DB_PORT (throwaway, in $WORK/pg)"
chown postgres "$WORK"
su postgres -c "$PGBIN/initdb -D $WORK/pg -A scram-sha-256 --pwfile=<(echo postgres-admin-pw) -U postgres" >/dev/null
su postgres -c "$PGBIN/pg_ctl -D $WORK/pg -w -l $WORK/pg.log -o '-c listen_addresses=$DB_ADDR -p $DB_PORT -k $WORK' start" >/dev/null
export PGPASSWORD=postgres-admin-pw
psql -q -h $DB_ADDR -p "$DB_PORT" -U postgres <<'SQL'
CREATE ROLE etl LOGIN PASSWORD 'hunter2-hardcoded';
CREATE DATABASE orders OWNER etl;
SQL
PGPASSWORD=hunter2-hardcoded psql -q -h $DB_ADDR -p "$DB_PORT" -U etl orders <<'SQL'
CREATE TABLE orders (id serial PRIMARY KEY, customer text, total numeric(10,2), created date DEFAULT current_date);
INSERT INTO orders (customer, total) SELECT 'customer-' || g, (g * 7.31)::numeric(10,2) FROM generate_series(1, 500) g;
SQL
unset PGPASSWORD

say "sluiced: programs attached to cgroup $CGROOT, pins in a private bpffs"
mkdir -p "$CG2$CGROOT" "$BPFFS"
mount -t bpf bpf "$BPFFS"
cat > "$WORK/sluice.yaml" <<YAML
listen: 127.0.0.1:$PROXY_PORT
listen6: ""
control_socket: $WORK/control.sock
cgroup_root: $CGROOT
state_dir: $WORK/state
policies: $WORK/policies
fail_mode: closed
log: { format: json }
bpf: { pin_dir: $BPFFS/sluice }
identities:
  - name: legacy-etl
    claimable_by: { uids: [], gids: [] }
    egress: deny
targets:
  - name: orders-db
    protocol: tcp
    address: $DB_ADDR:$DB_PORT
YAML
cat "$WORK/sluice.yaml"
bin/sluiced --config "$WORK/sluice.yaml" > "$WORK/events.jsonl" 2> "$WORK/sluiced.err" &
SLUICED_PID=$!
for _ in $(seq 100); do
	bin/sluice --control "$WORK/control.sock" status >/dev/null 2>&1 && break
	sleep 0.1
done
bin/sluice --control "$WORK/control.sock" status >/dev/null

cat > "$WORK/nightly.sh" <<JOB
#!/bin/sh
# The legacy job, unchanged: a hard-coded password and the database's address.
export PGPASSWORD=hunter2-hardcoded
psql -h $DB_ADDR -p $DB_PORT -U etl orders -c "SELECT count(*) AS orders, sum(total) AS revenue FROM orders"
echo "-- the job also tries to reach a host that is not a target:"
psql -h 127.0.0.5 -p 5432 -U etl orders -c "SELECT 1" 2>&1 || true
JOB
chmod 0755 "$WORK/nightly.sh"

say "the legacy job, run as: sluice run --identity legacy-etl -- nightly.sh"
bin/sluice --control "$WORK/control.sock" run --identity legacy-etl -- "$WORK/nightly.sh"

say "sluice status"
bin/sluice --control "$WORK/control.sock" status | sed -n '1,20p'

say "events (connection.* of the job; full stream in JSON lines)"
sleep 0.3
python3 - "$WORK/events.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    ev = json.loads(line)
    if not ev.get("event", "").startswith(("connection.", "job.")):
        continue
    keys = ["event", "identity", "pid", "comm", "exe", "uid", "cgroup", "dst", "target", "bytes_up", "bytes_down", "reason"]
    print("  " + "  ".join(f"{k}={ev[k]}" for k in keys if ev.get(k) not in (None, "")))
PY
say "done: everything created by the demo is being removed"
