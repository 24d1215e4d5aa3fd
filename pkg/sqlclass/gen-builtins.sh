#!/usr/bin/env bash
# gen-builtins.sh writes builtins.txt: the names of the functions in
# pg_catalog of a freshly initialised PostgreSQL cluster, one a line.
#
# It needs the PostgreSQL server binaries (Debian: postgresql-15) and root,
# to run them as the postgres user. Usage: gen-builtins.sh [output file]
set -euo pipefail

out=${1:-builtins.txt}
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
bindir=${PGBIN:-/usr/lib/postgresql/15/bin}
pguser=${PGUSER_OS:-postgres}

for b in initdb pg_ctl psql; do
	if [ ! -x "$bindir/$b" ]; then
		echo "gen-builtins.sh: $bindir/$b not found (set PGBIN)" >&2
		exit 1
	fi
done

tmp=$(mktemp -d)
cleanup() {
	if [ -f "$tmp/data/postmaster.pid" ]; then
		runuser -u "$pguser" -- "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
chown "$pguser" "$tmp"
chmod 700 "$tmp"

# A free TCP port on the loopback interface: one nothing answers on.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "gen-builtins.sh: no free port found" >&2
	return 1
}
port=$(free_port)

as_pg() { runuser -u "$pguser" -- "$@"; }

as_pg "$bindir/initdb" -D "$tmp/data" -U postgres -A trust --no-sync --locale=C --encoding=UTF8 >"$tmp/initdb.log" 2>&1 ||
	{ cat "$tmp/initdb.log" >&2; exit 1; }
as_pg "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w \
	-o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c fsync=off" start >/dev/null ||
	{ cat "$tmp/server.log" >&2; exit 1; }

as_pg "$bindir/psql" -X -q -A -t -h "$tmp" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
	-c "SELECT DISTINCT proname FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace ORDER BY 1" \
	>"$tmp/builtins.txt"

as_pg "$bindir/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null
cp "$tmp/builtins.txt" "$out"
chmod 644 "$out"
echo "gen-builtins.sh: wrote $(wc -l <"$out") names to $out"
