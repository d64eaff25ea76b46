#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the cluster tests (ucp-cluster).
#
#   source .ci/postgres.sh && ucp_postgres_start   # exports UCP_TEST_DATABASE_URL
#   ...                                             # run the tests
#   ucp_postgres_stop                               # stops the server, removes its files
#
# Installs Debian's postgresql when initdb/pg_ctl are missing. PostgreSQL refuses to run as
# root, so as root the server runs as the `postgres` user (created by the package, or here).

ucp_postgres_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return
  fi
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$dir" ]; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    dir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
  echo "$dir"
}

ucp_postgres_start() {
  local bin port user
  bin="$(ucp_postgres_bin)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  UCP_PG_DIR="$(mktemp -d /tmp/ucp-pg.XXXXXX)"
  user="$(id -un)"
  local run=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$UCP_PG_DIR"
    run=(runuser -u postgres --)
    user=postgres
  fi
  UCP_PG_RUN=("${run[@]}")
  "${run[@]}" "$bin/initdb" -D "$UCP_PG_DIR/data" -U "$user" -A trust --no-sync -E UTF8 >"$UCP_PG_DIR/initdb.log" 2>&1 || {
    cat "$UCP_PG_DIR/initdb.log" >&2; return 1; }
  # Throwaway data: no fsync; enough connections for three nodes and the tests.
  "${run[@]}" "$bin/pg_ctl" -D "$UCP_PG_DIR/data" -l "$UCP_PG_DIR/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $UCP_PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$UCP_PG_DIR/server.log" >&2; return 1; }
  UCP_PG_BIN="$bin"
  export UCP_TEST_DATABASE_URL="postgres://$user@127.0.0.1:$port/postgres"
  echo "PostgreSQL on 127.0.0.1:$port ($UCP_PG_DIR): UCP_TEST_DATABASE_URL=$UCP_TEST_DATABASE_URL"
}

ucp_postgres_stop() {
  [ -n "${UCP_PG_DIR:-}" ] || return 0
  "${UCP_PG_RUN[@]}" "$UCP_PG_BIN/pg_ctl" -D "$UCP_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$UCP_PG_DIR"
  unset UCP_PG_DIR UCP_TEST_DATABASE_URL
}
