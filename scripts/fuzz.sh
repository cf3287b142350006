#!/usr/bin/env bash
# Runs every cargo-fuzz target of tests/fuzz for SECONDS each (default 30), two at a time.
# New inputs libFuzzer finds go to tests/fuzz/corpus-run/ (not committed); the committed seeds in
# tests/fuzz/corpus/ are only read. A crash prints the target's log and the input that made it
# (tests/fuzz/artifacts/<target>/), and the script fails.
#
# No sanitizer (`--sanitizer none`): AddressSanitizer needs a nightly compiler, and the machine has
# one stable toolchain; the project has no unsafe code of its own, and libFuzzer's coverage guidance
# works on stable without one. Debug assertions are on (overflow checks included).
set -euo pipefail
cd "$(dirname "$0")/../tests/fuzz"
seconds=${1:-30}
case "$seconds" in '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS per target]" >&2; exit 2 ;; esac

if ! command -v cargo-fuzz >/dev/null; then
  echo "installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked --quiet
fi
fuzz=(cargo fuzz)
opts=(--sanitizer none --debug-assertions)

"${fuzz[@]}" build "${opts[@]}"
targets=$("${fuzz[@]}" list)
logs=corpus-run/logs
mkdir -p "$logs"

run_one() {
  local t=$1 seconds=$2
  mkdir -p "corpus-run/$t"
  if cargo fuzz run --sanitizer none --debug-assertions "$t" "corpus-run/$t" "corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"corpus-run/logs/$t.log" 2>&1; then
    runs=$(grep -o 'Done [0-9]* runs' "corpus-run/logs/$t.log" | grep -o '[0-9]*' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "corpus-run/logs/$t.log" | tail -1 | grep -o '[0-9]*' || echo "?")
    echo "fuzz $t: ok, $runs runs in ${seconds}s, coverage $cov"
  else
    echo "fuzz $t: FAILED"
    tail -n 40 "corpus-run/logs/$t.log"
    return 1
  fi
}
export -f run_one

echo "$targets" | xargs -P 2 -I{} bash -c 'run_one "$@"' _ {} "$seconds"
