#!/usr/bin/env bash
# Checks the Debian packages the project needs; installs them with apt-get when
# missing and we are root, otherwise names the package and stops.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ -n "${PG_BINDIR:-}" ] || missing+=(postgresql)
# pyodbc links against unixODBC's libodbc.so.2
ldconfig -p 2>/dev/null | grep -q 'libodbc.so.2' || missing+=(unixodbc)
# FreeTDS's ODBC driver: pyodbc reaches the TDS endpoint of devstack/tds through it
ls /usr/lib/*/odbc/libtdsodbc.so >/dev/null 2>&1 || missing+=(tdsodbc)
# headless Chromium: the Dagster test opens `dagster dev`'s web UI in it (tests/dagster)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
