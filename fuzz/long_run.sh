#!/usr/bin/env bash
# Long fuzzing runs: each named target (default: all) for SECONDS (default 1800) in turn,
# at low priority, growing fuzz/work/TARGET; logs in fuzz/work/TARGET.log, crashes in
# fuzz/findings/. Usage: fuzz/long_run.sh [SECONDS] [TARGET ...]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-1800}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(capture http1 http2 walker har flowfile yaml)
mkdir -p fuzz/work
for target in "${targets[@]}"; do
  echo "== $target: $seconds s"
  nice -n 19 python3 fuzz/run.py "$target" -max_total_time="$seconds" -timeout=20 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 >"fuzz/work/$target.log" 2>&1
  echo "exit $?; $(grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' \
    "fuzz/work/$target.log" | tr '\n' ' ')$(grep -m1 -E 'cov: [0-9]+' -o "fuzz/work/$target.log" | tail -1)"
  grep -E '#[0-9]+.*(DONE|pulse|NEW)' "fuzz/work/$target.log" | tail -1
done
