#!/usr/bin/env bash
# A long seeded sweep of the simulator's properties: round after round, each with
# many cases and a fresh proptest seed, until MINUTES have passed or a property
# fails. It stops by itself and prints the failing seeds.
#
#   bash scripts/soak.sh [MINUTES]        # default 10
#
# Each round runs `cargo test --lib sim::` with PROPTEST_CASES=SOAK_CASES and
# PROPTEST_RNG_SEED=<round seed>, so a failing round can be replayed exactly:
#
#   PROPTEST_CASES=<cases> PROPTEST_RNG_SEED=<seed> cargo test --release --lib sim::
#
# and the failing case itself from the link seed its message prints ("seed
# 0x…"): put the printed LinkConfig and sizes in a #[test] (see the regression
# tests in src/sim/tests/). With TUNSTACK_SIM_PCAP=DIR set, the failing case's
# packets are also written to DIR/<property>-failing.pcapng.
#
# Environment:
#   SOAK_CASES    cases per property per round (default 2000)
#   SOAK_FILTER   which tests (default "sim::"; e.g. "sim::tests::stream")
#   SOAK_SEED     the first round's proptest seed (default: the clock)
#   SOAK_PROFILE  release (default) or debug
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

minutes="${1:-10}"
if ! [[ "$minutes" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [MINUTES]   (a positive whole number, default 10)" >&2
    exit 2
fi
cases="${SOAK_CASES:-2000}"
filter="${SOAK_FILTER:-sim::}"
seed="${SOAK_SEED:-$(date +%s)}"
profile=()
if [ "${SOAK_PROFILE:-release}" = release ]; then
    profile=(--release)
fi

if [ -d "$HOME/.cargo/bin" ] && ! command -v cargo >/dev/null 2>&1; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

echo "==== building the tests (${SOAK_PROFILE:-release}) ===="
cargo test "${profile[@]}" --lib --no-run

log="$(mktemp -t tunstack-soak.XXXXXX)"
trap 'rm -f "$log"' EXIT
deadline=$((SECONDS + minutes * 60))
rounds=0
echo "==== soaking '$filter' for $minutes min, $cases cases per property per round ===="
while ((SECONDS < deadline)); do
    left=$((deadline - SECONDS))
    status=0
    PROPTEST_CASES="$cases" PROPTEST_RNG_SEED="$seed" \
        timeout "$left" cargo test "${profile[@]}" --lib "$filter" >"$log" 2>&1 || status=$?
    if [ "$status" -eq 124 ]; then
        echo "round $((rounds + 1)) (PROPTEST_RNG_SEED=$seed) cut short: time is up"
        break
    fi
    if [ "$status" -ne 0 ]; then
        echo "round $((rounds + 1)) FAILED (PROPTEST_CASES=$cases PROPTEST_RNG_SEED=$seed)"
        echo "---- failing properties ----"
        grep -E '^test .* FAILED$' "$log" || true
        echo "---- failures (link seeds in the messages) ----"
        grep -A1 'panicked at' "$log" | grep -v -e '^--$' -e '^stack backtrace' || true
        echo "---- minimal failing inputs ----"
        awk '/minimal failing input/,/successes:/' "$log" || true
        echo "replay: PROPTEST_CASES=$cases PROPTEST_RNG_SEED=$seed cargo test ${profile[*]:+${profile[*]} }--lib '$filter'"
        exit 1
    fi
    rounds=$((rounds + 1))
    summary="$(grep -E '^test result:' "$log" | tail -1)"
    echo "round $rounds (PROPTEST_RNG_SEED=$seed) ok: $summary"
    seed=$((seed + 1))
done
echo "==== soak done: $rounds rounds of $cases cases per property, no failure ===="
