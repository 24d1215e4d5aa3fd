#!/usr/bin/env bash
# Installs what sluice's build, tests, demo and benchmarks need on Debian 12.
# Idempotent: packages already present are not fetched again.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get)" >&2
	exit 1
fi

packages=(
	clang-16 llvm-16 linux-libc-dev               # BPF object (make generate)
	postgresql postgresql-client                  # real server and psql: demo and tests
	pgbouncer                                     # benchmark baseline
	python3-psycopg2                              # psycopg2 client tests
	default-jdk-headless libpostgresql-jdbc-java  # JDBC client tests (javac)
	curl iproute2 procps
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

go mod download
