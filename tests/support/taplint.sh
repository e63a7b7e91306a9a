#!/usr/bin/env bash
# Validate a TAP service with STILTS taplint (the validator maintained by TOPCAT's author).
#
#   tests/support/taplint.sh URL [STAGES] [REPORT]
#
# Installs Debian's stilts (and Java) with apt-get when it is missing and we may. Writes
# the full report to REPORT (default taplint-report.txt), prints errors, some warnings
# and the totals line last; exits 1 when taplint reports an error, 3 when stilts is not
# available (callers skip), 0 otherwise. Adapted from the project's shared taplint.sh.
set -euo pipefail
url="${1:?usage: taplint.sh URL [STAGES] [REPORT]}"
stages="${2:-}"
report="${3:-taplint-report.txt}"
if ! command -v stilts >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing stilts (Debian package) ..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stilts) \
      >/dev/null 2>&1 || true
  fi
  command -v stilts >/dev/null 2>&1 || { echo "stilts is not available" >&2; exit 3; }
fi
args=(taplint "tapurl=$url" report=EWF)
[ -n "$stages" ] && args+=("stages=$stages")
stilts "${args[@]}" > "$report" 2>&1 || true
grep -E '^E-' "$report" | head -40 || true
grep -E '^W-' "$report" | head -20 || true
totals=$(grep -E '^Totals:' "$report" || echo "Totals: (taplint did not finish; see $report)")
echo "$totals"
errors=$(sed -n 's/^Totals: Errors: \([0-9]*\);.*/\1/p' <<<"$totals")
[ "${errors:-1}" = "0" ]
