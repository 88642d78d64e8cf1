#!/usr/bin/env bash
# Runs the property tests of every parser and reader (the `hardening_*` tests) with a large
# case count, for about a fixed time. CI runs them with proptest's default (256 cases).
#
#   scripts/fuzz.sh                 # ~10 minutes, 100000 cases per property
#   scripts/fuzz.sh 3600 1000000    # an hour, a million cases per property
#
# Each round runs every property once with PROPTEST_CASES cases; rounds repeat until the
# time is spent. A failure stops at once; proptest prints the minimal failing input and
# keeps it under the crate's proptest-regressions/ (commit it: it becomes a test case).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-600}
cases=${2:-100000}
targets=(
    "-p cudadent-config --test hardening_config"
    "-p sass-inspect --test hardening_parse"
    "-p sanitizer-gate --test hardening_parse"
    "-p cudadent-evidence --test hardening_artifacts"
)
# Build once (release: more cases per second), outside the clock.
for t in "${targets[@]}"; do
    # shellcheck disable=SC2086
    cargo test --release $t --no-run
done
end=$((SECONDS + seconds))
round=0
while ((SECONDS < end)); do
    round=$((round + 1))
    for t in "${targets[@]}"; do
        ((SECONDS < end)) || break
        echo "== round $round: $t (PROPTEST_CASES=$cases, $((end - SECONDS)) s left)"
        # shellcheck disable=SC2086
        PROPTEST_CASES=$cases cargo test --release $t -- --test-threads=4
    done
done
echo "fuzz: $round round(s) in ${seconds}s, no failure"
