#!/usr/bin/env bash
# Run the test suite (or the pytest arguments given) against a throwaway PostgreSQL server.
#
# PostgreSQL comes from Debian's packages (installed here when missing, which needs root). The
# server gets a fresh data directory under /tmp, listens on 127.0.0.1 only, on a free port, trusts
# local connections, and is stopped and deleted on exit, whatever happens. As root, the server runs
# as the `postgres` user (initdb refuses root).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}

newest_pg_bin() {  # the newest installed server (a client-only package has no initdb)
    local bin found=""
    for bin in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
        [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && found=$bin
    done
    echo "$found"
}

PG_BIN=$(newest_pg_bin)
if [ -z "$PG_BIN" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "PostgreSQL is not installed: run 'apt-get install -y postgresql' as root." >&2
        exit 1
    fi
    echo "Installing PostgreSQL from Debian's packages..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q postgresql
    PG_BIN=$(newest_pg_bin)
fi

WORK=$(mktemp -d /tmp/pgtest.XXXXXX)
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$WORK"
    AS_OWNER=(runuser -u postgres --)
else
    AS_OWNER=()
fi

stop_server() {
    if [ -f "$WORK/data/postmaster.pid" ]; then
        "${AS_OWNER[@]}" "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap stop_server EXIT

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"${AS_OWNER[@]}" "$PG_BIN/initdb" -D "$WORK/data" -U postgres --auth=trust --no-locale -E UTF8 \
    --no-sync >"$WORK/initdb.log" || { cat "$WORK/initdb.log" >&2; exit 1; }
# Durability is pointless for a throwaway test server; the suite runs faster without it.
"${AS_OWNER[@]}" "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $WORK -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (data in $WORK)"

DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/auth0_example" "$PY" -m pytest "$@"
