#!/usr/bin/env bash
# Best-effort install of the system packages some tests use: STILTS (TAP validator, with Java),
# a PostgreSQL server (job store test) and Chromium with its WebDriver (the browser test that
# opens a notebook in JupyterLab). Tests skip with a clear reason when these are
# missing, so a machine without root or apt-get still runs the rest of the suite.
set -u
need=()
command -v stilts >/dev/null 2>&1 || need+=(stilts)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: cannot install ${need[*]} (needs root and apt-get); the tests using them will skip" >&2
  exit 0
fi
echo "installing ${need[*]} from Debian's packages ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
  || echo "note: apt-get install ${need[*]} failed; the tests using them will skip" >&2
exit 0
