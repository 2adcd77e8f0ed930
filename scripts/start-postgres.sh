#!/usr/bin/env bash
# Start the local PostgreSQL the tests use (127.0.0.1:5432, trust auth, database `test`) when it
# is not accepting connections, then wait until it does. Idempotent: a running server is left as
# it is. Used by .ci/run; `make test` expects the server up (it is, on the project's machines).
set -euo pipefail
HOST=127.0.0.1
PORT=5432
if pg_isready -q -h "$HOST" -p "$PORT"; then
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "start-postgres: PostgreSQL is not running at $HOST:$PORT and pg_ctlcluster is not installed" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ] && [ "$(id -un)" != "postgres" ]; then
  echo "start-postgres: PostgreSQL is not running at $HOST:$PORT, and $(id -un) cannot start it" \
       "(run as root or postgres: pg_ctlcluster <version> main start)" >&2
  exit 1
fi
for version in $(ls /etc/postgresql); do
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
done
for _ in $(seq 1 60); do
  if pg_isready -q -h "$HOST" -p "$PORT"; then
    echo "start-postgres: PostgreSQL is accepting connections at $HOST:$PORT"
    exit 0
  fi
  sleep 1
done
echo "start-postgres: PostgreSQL did not accept connections at $HOST:$PORT within 60 s" >&2
exit 1
