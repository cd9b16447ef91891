#!/usr/bin/env bash
# Runs the given test command (e.g. `.venv/bin/pytest -q`) with a throwaway PostgreSQL server
# and stops the server afterwards, whatever the command's outcome.
#
# - RECOGRAPH_TEST_POSTGRES_URL already set: that server is used as is; nothing is started.
# - Otherwise Debian's PostgreSQL server binaries are used (installed with apt-get when
#   initdb/pg_ctl are missing), a cluster is initialised in a temporary folder and started on a
#   free loopback port (unix socket in the same folder), a database `recograph_test` is
#   created, and RECOGRAPH_TEST_POSTGRES_URL=postgresql+asyncpg://... is exported for the
#   command. The server runs as the `postgres` system user when this script runs as root
#   (initdb refuses root). On exit (success, failure or Ctrl-C) the server is stopped and the
#   folder deleted.
# - RECOGRAPH_SKIP_POSTGRES=1: run the command without a server (the PostgreSQL tests skip).
set -euo pipefail

if [[ -n "${RECOGRAPH_TEST_POSTGRES_URL:-}" || "${RECOGRAPH_SKIP_POSTGRES:-}" == "1" ]]; then
  exec "$@"
fi

log() { echo "test_services: $*" >&2; }

# The newest PostgreSQL bin folder with initdb and pg_ctl, else the ones on PATH; empty if none.
find_pg_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
      echo "$dir"
      return
    fi
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(readlink -f "$(command -v initdb)")"
  fi
}

install_postgres() {
  if [[ "$(id -u)" != 0 ]]; then
    log "PostgreSQL server binaries not found and not root: install Debian's 'postgresql'" \
      "package, set RECOGRAPH_TEST_POSTGRES_URL, or set RECOGRAPH_SKIP_POSTGRES=1"
    exit 1
  fi
  log "installing Debian's postgresql server (apt-get)"
  # Only our throwaway cluster is wanted: keep the package from creating and starting its own.
  if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
  fi
  local apt=(apt-get install -y -q --no-install-recommends
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql)
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" >/dev/null
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

PG_BIN="$(find_pg_bin)"
if [[ -z "$PG_BIN" ]]; then
  install_postgres
  PG_BIN="$(find_pg_bin)"
  [[ -n "$PG_BIN" ]] || { log "initdb/pg_ctl still missing after installing postgresql"; exit 1; }
fi

# initdb and postgres refuse to run as root: run them as the postgres system user.
AS_PG=()
if [[ "$(id -u)" == 0 ]]; then
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/sh postgres
  fi
  AS_PG=(runuser -u postgres --)
fi

PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/recograph-pg.XXXXXX")"
PG_DATA="$PG_DIR/data"
PG_STARTED=0

cleanup() {
  local status=$?
  if [[ "$PG_STARTED" == 1 ]]; then
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_DIR"
  return "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PASSWORD="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$PASSWORD" >"$PG_DIR/pwfile"
[[ ${#AS_PG[@]} -eq 0 ]] || chown -R postgres: "$PG_DIR"
chmod 700 "$PG_DIR"

"${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C --no-sync \
  --auth-local=trust --auth-host=scram-sha-256 --pwfile="$PG_DIR/pwfile" >"$PG_DIR/initdb.log" 2>&1 ||
  { cat "$PG_DIR/initdb.log" >&2; exit 1; }

# Durability is pointless for a server deleted after the run; this makes tests faster.
OPTIONS="-c listen_addresses=127.0.0.1 -k $PG_DIR -c fsync=off -c synchronous_commit=off"
OPTIONS+=" -c full_page_writes=off -c max_connections=100"
for _attempt in 1 2 3 4 5; do
  PORT="$(free_port)"
  if "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $PORT $OPTIONS" start >/dev/null; then
    PG_STARTED=1
    break
  fi
done
if [[ "$PG_STARTED" != 1 ]]; then
  cat "$PG_DIR/server.log" >&2 || true
  log "could not start PostgreSQL"
  exit 1
fi

"${AS_PG[@]}" "$PG_BIN/psql" -q -h "$PG_DIR" -p "$PORT" -U postgres -d postgres \
  -c "CREATE DATABASE recograph_test" >/dev/null

export RECOGRAPH_TEST_POSTGRES_URL="postgresql+asyncpg://postgres:$PASSWORD@127.0.0.1:$PORT/recograph_test"
log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (data in $PG_DIR)"

set +e
"$@"
status=$?
set -e
exit "$status"
