#!/usr/bin/env bash
# Starts a private PostgreSQL cluster for the tests (Debian's `postgresql`, installed when
# missing) on a free port under a fresh directory, and prints its admin URL. The tests create
# one database per server they start (see tests/src/lib.rs, FIELDLINE_TEST_POSTGRES).
#
#   url=$(scripts/pg.sh start /var/tmp/fieldline-pg)   # prints postgres://…/postgres
#   scripts/pg.sh stop /var/tmp/fieldline-pg           # stops it and removes the directory
set -euo pipefail
cmd="${1:-start}"
dir="${2:-/var/tmp/fieldline-pg}"

bin=""
for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/pg_ctl" ] && bin="$d"
done
if [ -z "$bin" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >&2 && $SUDO apt-get install -y -qq postgresql postgresql-contrib >&2
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && bin="$d"
  done
fi
[ -n "$bin" ] || { echo "PostgreSQL is not installed" >&2; exit 1; }

# initdb refuses to run as root: the cluster belongs to the `postgres` user then.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir" 2>/dev/null || true
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # C collation: text sorts by bytes, as on SQLite.
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # Tests start many servers, each with its own pool; fsync stays on (the suite checks
    # durability through SIGKILL).
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=128MB" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    # Stops the cluster and removes it (a test run's databases are of no use afterwards).
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac
