#!/usr/bin/env bash
# sluice demo: a legacy nightly job talks to PostgreSQL through sluice.
#
# A throwaway PostgreSQL on loopback holds an "orders" database whose tables
# all belong to the role etl_reader: the database itself would let that role
# drop any of them. sluiced runs with a demo configuration (scripts/demo/):
# the target orders-db logs in as etl_reader with a password only sluice
# knows, and a policy lets the job read sales and public, load staging, and
# nothing else. The job is a plain psql script with a wrong password
# hard-coded; it is run unchanged under `sluice run --identity legacy-etl`.
# Its reads and its insert go through, its DROP TABLE is refused with SQLSTATE
# 42501 and the session carries on; every statement is in the event stream.
# Then a cleanup job (run as nobody) deletes staged rows: the policy sends
# that to review, so the DELETE waits until the script, as root, approves it
# with `sluice approve`.
#
# Everything the demo creates (PostgreSQL, sluiced, the pinned programs, the
# bpffs mount, the cgroups, the temporary directory) is removed on exit, on
# failure too. Exit status: 0 when everything that should happen did.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
DEMO=scripts/demo

die() { echo "demo: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (eBPF and cgroups): sudo make demo"
[ -x bin/sluiced ] && [ -x bin/sluice ] || die "bin/sluiced and bin/sluice are missing: make build"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[ -n "$PGBIN" ] && [ -x "$PGBIN/pg_ctl" ] || die "no PostgreSQL server found: scripts/install-deps.sh"
command -v psql >/dev/null || die "psql not found: scripts/install-deps.sh"
id postgres >/dev/null 2>&1 || die "no postgres user: scripts/install-deps.sh"
command -v runuser >/dev/null || die "runuser not found (util-linux)"
PY=$(command -v /usr/bin/python3 || command -v python3 || true)
[ -n "$PY" ] || die "python3 not found"
CG2=$(findmnt -t cgroup2 -n -o TARGET 2>/dev/null | head -1 || true)
[ -n "$CG2" ] || die "no cgroup2 filesystem mounted"

DB_ADDR=127.0.0.2
free_port() { "$PY" -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$1"; }
DB_PORT=$(free_port $DB_ADDR)
PROXY_PORT=$(free_port 127.0.0.1)
CGROOT="/sluice-demo-$$"
SLUICED_PID=""
CHECKED=""  # set once the checks have run and explained any failure

WORK=$(mktemp -d /tmp/sluice-demo.XXXXXX)
chmod 0755 "$WORK"
SDIR="$WORK/sluice"    # sluiced's files: root only
PGDATA="$WORK/pg"      # PostgreSQL's data directory
PGRUN="$WORK/pgrun"    # PostgreSQL's socket and log
BPFFS="$WORK/bpffs"    # a private bpffs for the pinned programs and maps
CONTROL="$SDIR/control.sock"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
indent() { sed -e "/^$/d" -e "s/^/  /"; }
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
# psql as the PostgreSQL superuser, over the Unix socket (peer authentication).
pg_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -h "$PGRUN" -p "$DB_PORT" "$@"; }
sluice() { bin/sluice --control "$CONTROL" "$@"; }

postmaster_pid() { [ -r "$PGDATA/postmaster.pid" ] && head -1 "$PGDATA/postmaster.pid"; }

cleanup() {
	local rc=$? pid i
	set +e
	trap '' INT TERM  # a second Ctrl-C must not cut the cleanup short
	if [ "$rc" -ne 0 ] && [ -z "$CHECKED" ]; then
		echo "demo: failed (exit $rc)" >&2
		[ -s "$SDIR/sluiced.err" ] && { echo "-- sluiced stderr (tail):" >&2; tail -n 20 "$SDIR/sluiced.err" >&2; }
		[ -s "$PGRUN/postgres.log" ] && { echo "-- postgres log (tail):" >&2; tail -n 10 "$PGRUN/postgres.log" >&2; }
	fi
	# Processes left in the demo's cgroups (a job that did not finish).
	if [ -d "$CG2$CGROOT" ]; then
		for pid in $(find "$CG2$CGROOT" -name cgroup.procs -exec cat {} + 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	fi
	if [ -n "$SLUICED_PID" ] && kill -0 "$SLUICED_PID" 2>/dev/null; then
		kill -TERM "$SLUICED_PID"
		for i in $(seq 100); do kill -0 "$SLUICED_PID" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$SLUICED_PID" 2>/dev/null && kill -KILL "$SLUICED_PID"
		wait "$SLUICED_PID" 2>/dev/null
	fi
	[ -d "$BPFFS/sluice" ] && bin/sluice detach --pin-dir "$BPFFS/sluice" >/dev/null
	mountpoint -q "$BPFFS" && umount "$BPFFS"
	pid=$(postmaster_pid)
	if [ -n "$pid" ]; then
		as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 20 stop >/dev/null 2>&1
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid"; sleep 1
			kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
		fi
	fi
	if [ -d "$CG2$CGROOT" ]; then
		for i in $(seq 20); do
			find "$CG2$CGROOT" -depth -type d -exec rmdir {} \; 2>/dev/null
			[ -d "$CG2$CGROOT" ] || break
			sleep 0.1
		done
		[ -d "$CG2$CGROOT" ] && echo "demo: could not remove cgroup $CG2$CGROOT" >&2
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
say "PostgreSQL on $DB_ADDR:$DB_PORT (throwaway, loopback only)"
install -d -m 0700 "$SDIR"
install -d -o postgres -g postgres -m 0700 "$PGDATA"
install -d -o postgres -g postgres -m 0755 "$PGRUN"
as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 --no-sync >/dev/null
as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -w -t 30 -l "$PGRUN/postgres.log" \
	-o "-c listen_addresses=$DB_ADDR -p $DB_PORT -k $PGRUN -c fsync=off" start >/dev/null

# etl_reader's password: random, in a file only root (sluiced) can read.
(umask 077 && head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$SDIR/etl_reader.password")
printf "CREATE ROLE etl_reader LOGIN PASSWORD '%s';\nCREATE DATABASE orders OWNER etl_reader;\n" \
	"$(cat "$SDIR/etl_reader.password")" | pg_admin -d postgres
pg_admin -d orders <"$DEMO/seed.sql"
pg_admin -d orders <<'SQL' | indent
SELECT t.schemaname || '.' || t.tablename AS "table", t.tableowner AS owner,
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', t.schemaname, t.tablename), false, true, '')))[1]::text::int AS rows
  FROM pg_tables t WHERE t.schemaname IN ('sales', 'public', 'prod', 'staging') ORDER BY 1;
SQL
echo "  etl_reader owns every table: PostgreSQL would let it DROP them."
echo "  Its password is in $SDIR/etl_reader.password (mode 0600): the job does not know it."

# ---------------------------------------------------------------------------
say "sluiced: programs attached to cgroup $CGROOT, pins in a private bpffs"
mkdir -p "$CG2$CGROOT" "$BPFFS" "$SDIR/policies"
mount -t bpf bpf "$BPFFS"
sed -e "s|@PROXY_PORT@|$PROXY_PORT|g" -e "s|@DIR@|$SDIR|g" -e "s|@CGROOT@|$CGROOT|g" \
	-e "s|@PIN_DIR@|$BPFFS/sluice|g" -e "s|@DB_ADDR@|$DB_ADDR|g" -e "s|@DB_PORT@|$DB_PORT|g" \
	-e "s|@PASSWORD_FILE@|$SDIR/etl_reader.password|g" "$DEMO/sluice.yaml.in" >"$SDIR/sluice.yaml"
cp "$DEMO"/policies/*.yaml "$SDIR/policies/"
CHECK_OUT=$(bin/sluiced --config "$SDIR/sluice.yaml" --check 2>&1) || { echo "$CHECK_OUT" >&2; die "invalid demo configuration"; }
echo "  configuration ($DEMO/sluice.yaml.in):"
sed -n '/^identities:/,$p' "$SDIR/sluice.yaml" | indent | indent
echo "  policy ($DEMO/policies/nightly-etl.yaml):"
grep -v '^#' "$SDIR/policies/nightly-etl.yaml" | indent | indent

bin/sluiced --config "$SDIR/sluice.yaml" >"$SDIR/events.jsonl" 2>"$SDIR/sluiced.err" &
SLUICED_PID=$!
for _ in $(seq 100); do
	sluice status >/dev/null 2>&1 && break
	kill -0 "$SLUICED_PID" 2>/dev/null || die "sluiced exited during start"
	sleep 0.1
done
sluice status >/dev/null || die "sluiced did not come up"
echo "  sluiced is up (pid $SLUICED_PID), proxy on 127.0.0.1:$PROXY_PORT"

# ---------------------------------------------------------------------------
JOB_CMD=(psql -X -h "$DB_ADDR" -p "$DB_PORT" -U etl -d orders -v VERBOSITY=verbose -a -f "$DEMO/job.sql")
say "the legacy job: a wrong password hard-coded, run unchanged under sluice"
echo "  \$ PGPASSWORD=hunter2 sluice run --identity legacy-etl -- ${JOB_CMD[*]}"
echo
set +e
PGPASSWORD=hunter2 PGCONNECT_TIMEOUT=10 timeout 60 \
	bin/sluice --control "$CONTROL" run --identity legacy-etl -- "${JOB_CMD[@]}" >"$WORK/job.out" 2>&1
JOB_RC=$?
set -e
indent <"$WORK/job.out"
echo "  (psql exited with status $JOB_RC)"

# ---------------------------------------------------------------------------
STAGED=$(pg_admin -d orders -At -c "SELECT count(*) FROM staging.imports" 2>/dev/null) || STAGED="(table gone)"
CLEANUP_SQL="DELETE FROM staging.imports WHERE source = 'nightly'"
say "a cleanup job's DELETE is held for approval"
echo "  \$ sluice run --identity legacy-etl -- setpriv --reuid=nobody ... psql -c \"$CLEANUP_SQL\""
# The job runs as nobody: nobody may approve a request of their own uid,
# root included, and root approves this one.
PGPASSWORD=hunter2 PGCONNECT_TIMEOUT=10 HOME=/tmp timeout 90 \
	bin/sluice --control "$CONTROL" run --identity legacy-etl -- \
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	psql -X -h "$DB_ADDR" -p "$DB_PORT" -U etl -d orders -c "$CLEANUP_SQL" >"$WORK/cleanup.out" 2>&1 &
CLEANUP_PID=$!
request_id() { "$PY" -c '
import json, sys
for line in open(sys.argv[1]):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("event") == "approval.requested":
        print(ev["id"])
        break' "$SDIR/events.jsonl"; }
REQ=""
for _ in $(seq 300); do
	REQ=$(request_id)
	[ -n "$REQ" ] && break
	kill -0 "$CLEANUP_PID" 2>/dev/null || break
	sleep 0.1
done
[ -n "$REQ" ] || die "the cleanup job's DELETE was not held: $(cat "$WORK/cleanup.out")"
echo "  the job waits; nothing reached the database. An approver sees:"
sluice approvals list | indent | indent
echo "  \$ sluice approve $REQ --reason \"demo: staging cleanup\""
sluice approve "$REQ" --reason "demo: staging cleanup" | indent | indent
set +e
wait "$CLEANUP_PID"
CLEANUP_RC=$?
set -e
indent <"$WORK/cleanup.out"
echo "  (psql exited with status $CLEANUP_RC)"
STAGED_AFTER=$(pg_admin -d orders -At -c "SELECT count(*) FROM staging.imports" 2>/dev/null) || STAGED_AFTER="(table gone)"

# ---------------------------------------------------------------------------
say "events of the run (sluiced's JSON event stream, one line per event)"
# The sessions' events are written by the time their connection.close are.
for _ in $(seq 50); do
	[ "$(grep -c '"event":"connection.close".*"target":"orders-db"' "$SDIR/events.jsonl")" -ge 2 ] && break
	sleep 0.1
done
if command -v jq >/dev/null; then
	jq -r '
		def s: if . == null then "-" else tostring end;
		if .event == "db.login" then
			"  db.login  \(.outcome | s)  identity=\(.identity | s) pid=\(.pid | s) comm=\(.comm | s) cgroup=\(.cgroup | s)\n" +
			"            client sent user=\(.client_user | s) database=\(.client_database | s); sluice logged in as \(.user | s) (auth \(.auth | s))"
		elif (.event | startswith("approval.")) then
			"  \(.event)  id=\(.id | s)" +
			(if .approver_uid != null then "  by uid \(.approver_uid): \(.reason | s)" else "  \(.statement // "" | gsub("\\s+"; " "))" end)
		elif .event == "db.query" then
			"  db.query  \(.decision | s | .[0:6] | . + (" " * (6 - length)))  \(.kind | s | . + (" " * ([8 - length, 0] | max)))  " +
			"\(.rule | s | . + (" " * ([21 - length, 0] | max)))  " +
			(if .sqlstate then "sqlstate=\(.sqlstate)" else "rows=\(.rows | s)" end | . + (" " * ([14 - length, 0] | max))) +
			"  \(.statement // "" | gsub("\\s+"; " ") | if length > 80 then .[0:77] + "..." else . end)"
		else empty end' "$SDIR/events.jsonl"
elif [ -n "$PY" ]; then
	"$PY" - "$SDIR/events.jsonl" <<'PY'
import json, re, sys
def s(v): return "-" if v is None else str(v)
for line in open(sys.argv[1]):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("event") == "db.login":
        print(f"  db.login  {s(ev.get('outcome'))}  identity={s(ev.get('identity'))} pid={s(ev.get('pid'))} comm={s(ev.get('comm'))} cgroup={s(ev.get('cgroup'))}")
        print(f"            client sent user={s(ev.get('client_user'))} database={s(ev.get('client_database'))}; sluice logged in as {s(ev.get('user'))} (auth {s(ev.get('auth'))})")
    elif ev.get("event", "").startswith("approval."):
        if ev.get("approver_uid") is not None:
            print(f"  {ev['event']}  id={s(ev.get('id'))}  by uid {ev['approver_uid']}: {s(ev.get('reason'))}")
        else:
            stmt = re.sub(r"\s+", " ", s(ev.get("statement")))
            print(f"  {ev['event']}  id={s(ev.get('id'))}  {stmt}")
    elif ev.get("event") == "db.query":
        stmt = re.sub(r"\s+", " ", s(ev.get("statement")))
        if len(stmt) > 80:
            stmt = stmt[:77] + "..."
        res = f"sqlstate={ev['sqlstate']}" if ev.get("sqlstate") else f"rows={s(ev.get('rows'))}"
        print(f"  db.query  {s(ev.get('decision')):6}  {s(ev.get('kind')):8}  {s(ev.get('rule')):21}  {res:14}  {stmt}")
PY
else
	grep -E '"event":"(db\.(login|query)|approval\.[a-z]+)"' "$SDIR/events.jsonl" | indent
fi
echo "  (full stream: $(wc -l <"$SDIR/events.jsonl") JSON lines; denials carry the policy's message as \"reason\")"

# ---------------------------------------------------------------------------
say "checks"
echo "  sales.orders, counted by the postgres superuser directly (not through sluice):"
pg_admin -d orders -c "SELECT count(*) AS rows FROM sales.orders" 2>&1 | indent | indent || true
ORDERS_LEFT=$(pg_admin -d orders -At -c "SELECT count(*) FROM sales.orders" 2>/dev/null) || ORDERS_LEFT="(table gone)"

FAILED=0
check() { # check DESCRIPTION COMMAND...
	local what=$1; shift
	if "$@"; then
		echo "  ok    $what"
	else
		echo "  FAIL  $what"
		FAILED=1
	fi
}
out_has() { grep -qF -- "$1" "$WORK/job.out"; }
check "the job ran to the end (psql exit status 0) despite its wrong password" test "$JOB_RC" -eq 0
check "the DROP TABLE was refused with SQLSTATE 42501 by rule no-ddl" \
	bash -c 'grep -F "42501" "$1" | grep -qF "rule \"no-ddl\""' _ "$WORK/job.out"
check "psql showed the policy's message" out_has "DDL is not allowed for nightly jobs; ask the DBA team"
check "sales.orders still exists with its 5 rows (found: $ORDERS_LEFT)" test "$ORDERS_LEFT" = 5
check "the insert into staging.imports went through (rows: $STAGED)" test "$STAGED" = 1
check "the cleanup DELETE waited, was approved by root and ran (rows left: $STAGED_AFTER)" \
	bash -c 'test "$1" -eq 0 && test "$2" = 0 && grep -qF "DELETE 1" "$3"' _ "$CLEANUP_RC" "$STAGED_AFTER" "$WORK/cleanup.out"
check "the events tell the same story" "$PY" - "$SDIR/events.jsonl" "$SDIR/etl_reader.password" <<'PY'
import json, sys
evs = []
for line in open(sys.argv[1]):
    try:
        evs.append(json.loads(line))
    except ValueError:
        pass
logins = [e for e in evs if e.get("event") == "db.login"]
queries = [e for e in evs if e.get("event") == "db.query" and e.get("kind") != "empty"]
problems = []
if not any(e.get("outcome") == "success" and e.get("user") == "etl_reader" and e.get("client_user") == "etl"
           and e.get("identity") == "legacy-etl" for e in logins):
    problems.append("no successful db.login of legacy-etl as etl_reader")
want = [  # (statement prefix, decision, kind)
    ("SELECT p.name", "allow", "select"),
    ("SELECT id, customer", "allow", "select"),
    ("INSERT INTO staging.imports", "allow", "insert"),
    ("DROP TABLE sales.orders", "deny", "ddl"),
    ("SELECT count(*) AS orders_still_there", "allow", "select"),
    ("DELETE FROM staging.imports", "review", "delete"),
]
got = [q for q in queries if q.get("target") == "orders-db"]
if len(got) != len(want):
    problems.append(f"{len(got)} db.query events, want {len(want)}")
for (prefix, decision, kind), q in zip(want, got):
    st = q.get("statement", "")
    if not st.startswith(prefix):
        problems.append(f"statement {st[:40]!r}, want {prefix!r}")
    elif q.get("decision") != decision or q.get("kind") != kind:
        problems.append(f"{prefix}: decision {q.get('decision')} kind {q.get('kind')}, want {decision} {kind}")
    elif decision == "allow" and (q.get("error") or q.get("rows") is None):
        problems.append(f"{prefix}: error {q.get('error')!r}, rows {q.get('rows')}")
    elif decision == "deny" and q.get("sqlstate") != "42501":
        problems.append(f"{prefix}: sqlstate {q.get('sqlstate')}")
    elif decision == "review" and (q.get("approval_outcome") != "approved" or q.get("approver_uid") != 0
                                   or q.get("uid") != 65534 or q.get("rows") != 1):
        problems.append(f"{prefix}: approval {q.get('approval_outcome')} by {q.get('approver_uid')}, uid {q.get('uid')}, rows {q.get('rows')}")
text = open(sys.argv[1]).read()
if "hunter2" in text:
    problems.append("the job's password appears in the events")
if open(sys.argv[2]).read().strip() in text:
    problems.append("etl_reader's password appears in the events")
for p in problems:
    print("        " + p)
sys.exit(1 if problems else 0)
PY
check "sluiced is still running" kill -0 "$SLUICED_PID"
CHECKED=1

if [ "$FAILED" -ne 0 ]; then
	echo
	echo "demo: some checks failed" >&2
	exit 1
fi
say "done: the job ran, sluice stopped the DROP and held the DELETE for a human; removing everything the demo created"
