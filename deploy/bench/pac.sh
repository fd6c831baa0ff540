#!/usr/bin/env bash
# PAC benchmark: size and mean FindProxyForURL time in pacparser of Breakout's generated PAC, the
# Get-PacFile shape (shExpMatch OR-chains) for the same destinations, and a `return "DIRECT"`
# floor, over the Microsoft 365 + Google tenant of policy/tests/pac_pacparser.rs. Same run,
# medians of RUNS repetitions. Prints a Markdown report (BENCHMARKS.md, "PAC").
#
# Knobs: RUNS (default 5), MIN_SECONDS (default 1.0: measured time per PAC per run),
# KEEP_WORKDIR=1 keeps the generated files. Needs Debian's python3-pacparser (/usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS="${RUNS:-5}"
MIN_SECONDS="${MIN_SECONDS:-1.0}"
if ! /usr/bin/python3 -c 'import pacparser' 2>/dev/null; then
  echo "pacparser is missing: apt-get install -y python3-pacparser" >&2
  exit 3
fi

work="$(mktemp -d -t breakout-pac-bench.XXXXXX)"
if [ "${KEEP_WORKDIR:-0}" = 1 ]; then
  echo "keeping $work" >&2
else
  trap 'rm -rf "$work"' EXIT
fi

BREAKOUT_PAC_WRITE="$work" cargo bench --locked -q -p breakout-policy --bench pac >&2
echo "- command: \`RUNS=$RUNS MIN_SECONDS=$MIN_SECONDS deploy/bench/pac.sh\`"
/usr/bin/python3 tests/pac/bench.py --runs "$RUNS" --min-seconds "$MIN_SECONDS" "$work"
