#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, then runs the linters and the test suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k search`).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[dev,base]'

# Debian packages the tests use: chromium for the browser tests (driven by Playwright, never
# a downloaded browser), redis-server for the queue tests, PostgreSQL for the fleet store's,
# ffmpeg (below).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
# Debian's ffmpeg, as the Docker image has: the static build in the imageio-ffmpeg wheel
# (n9.0.2) once hung for good in a suite run (threads waiting on each other, no CPU used)
# while encoding a clip on the loaded 2-core machine; it did not happen again alone.
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
# The rum extension of the installed PostgreSQL, for the phrase index the tests build (and
# test the search without).
version=$(ls /etc/postgresql | sort -V | tail -n1)
if [ ! -f "/usr/share/postgresql/$version/extension/rum.control" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$version-rum"
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
# PostgreSQL for the fleet store's tests (each test session creates and drops its own
# database): start the newest installed cluster when nothing answers on 127.0.0.1:5432.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

ruff check .
mypy
python3 -m pytest "$@"
