#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests: Debian's binaries, a temporary directory,
# loopback only, trust auth. `start` prints the URL to export as PREFLOG_TEST_POSTGRES_URL.
#   scripts/pg-test-cluster.sh start   # idempotent: reuses a running cluster
#   scripts/pg-test-cluster.sh stop    # keeps the data: start brings it back
#   scripts/pg-test-cluster.sh restart
set -euo pipefail
PORT=${PREFLOG_PG_PORT:-54329}
DIR=$(realpath -m "${PREFLOG_PG_DIR:-/tmp/preflog-pg-$PORT}")
URL="postgresql://postgres@127.0.0.1:$PORT/postgres"

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
  echo "PostgreSQL is not installed: apt-get install -y postgresql" >&2
  exit 1
fi

# initdb refuses to run as root: run the server as an unprivileged user.
as_user() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    (cd / && runuser -u postgres -- "$@")  # from /: the caller's directory may be closed to it
  else
    "$@"
  fi
}

case "${1:-}" in
  start)
    if [ -f "$DIR/data/postmaster.pid" ] && as_user "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
      echo "$URL"
      exit 0
    fi
    if [ ! -f "$DIR/data/PG_VERSION" ]; then  # a stopped cluster is started again with its data
      rm -rf "$DIR"
      mkdir -p "$DIR"
      [ "$(id -u)" = 0 ] && chown postgres "$DIR" 2>/dev/null || true
      as_user "$bin/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
        >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
    fi
    as_user "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=200 -c fsync=on" >/dev/null \
      || { cat "$DIR/server.log" >&2; exit 1; }
    echo "$URL"
    ;;
  stop)
    if [ -d "$DIR/data" ]; then
      as_user "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  restart)
    as_user "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -m fast -w -t 60 restart \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=200 -c fsync=on" >/dev/null
    echo "$URL"
    ;;
  *)
    echo "usage: $0 start|stop|restart" >&2
    exit 2
    ;;
esac
