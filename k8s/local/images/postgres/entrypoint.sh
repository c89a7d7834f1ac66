#!/bin/bash
# The official image's first-start contract: initialise PGDATA once, in UTF-8, with
# POSTGRES_USER as the superuser (password from POSTGRES_PASSWORD, scram over TCP), create
# POSTGRES_DB, then serve. (SQL_ASCII, initdb's default under the C locale, makes psycopg 3
# hand SQLAlchemy bytes where it expects text.)
set -euo pipefail
: "${PGDATA:?}" "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  mkdir -p "$PGDATA" && chmod 700 "$PGDATA"
  initdb --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
  [[ "$db" == postgres ]] || psql -v ON_ERROR_STOP=1 --username="$user" -d postgres \
    -c "CREATE DATABASE \"$db\""
  pg_ctl -D "$PGDATA" -m fast -w stop
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'
