#!/bin/sh
# Start a throwaway PostgreSQL server for the platform tests and print its SQLAlchemy URL on stdout.
#
#   SDGKIT_TEST_PG_URL="$(scripts/ci-postgres.sh)" scripts/run-tests.sh -q
#
# Installs Debian's postgresql package if no server binaries are present, creates a new cluster in
# a temporary folder (or $SDGKIT_PG_DIR), listening only on a unix socket there, trusts local
# connections, and creates the database sdgkit_test. Everything else it prints goes to stderr.
# As root the server runs as the postgres user (initdb refuses root). Stop it with:
#   pg_ctl -D <dir>/data stop     (as the same user)
set -eu

pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends postgresql >&2
fi
BIN="$(pg_bin)"
DIR="${SDGKIT_PG_DIR:-$(mktemp -d /tmp/sdgkit-pg.XXXXXX)}"
PORT="${SDGKIT_PG_PORT:-$((40000 + $$ % 20000))}"
mkdir -p "$DIR"
chmod 755 "$DIR"

if [ "$(id -u)" = 0 ]; then
    chown postgres "$DIR"
    as_owner() { su postgres -s /bin/sh -c "$1"; }
else
    as_owner() { sh -c "$1"; }
fi

as_owner "'$BIN/initdb' -D '$DIR/data' -A trust -U sdgkit -E UTF8 --no-locale" >&2
as_owner "'$BIN/pg_ctl' -D '$DIR/data' -l '$DIR/server.log' -w -t 60 \
    -o \"-k '$DIR' -p $PORT -c listen_addresses='' -c fsync=off -c full_page_writes=off\" start" >&2
as_owner "'$BIN/createdb' -h '$DIR' -p $PORT -U sdgkit sdgkit_test" >&2
echo "postgresql+psycopg://sdgkit@/sdgkit_test?host=$DIR&port=$PORT"
