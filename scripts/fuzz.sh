#!/usr/bin/env bash
# Run every cargo-fuzz target in fuzz/ for a while.
#
#   bash scripts/fuzz.sh [SECONDS]      # default 60 seconds per target
#
# Installs cargo-fuzz (from crates.io) if it is missing, builds the targets with
# AddressSanitizer (falling back to no sanitizer if that build fails), then runs
# each one starting from fuzz/corpus/<target> (kept between runs, not committed)
# and the committed seeds in fuzz/seeds/<target> (made from real packets by
# scripts/fuzz_seeds.sh). A crash leaves its input in
# fuzz/artifacts/<target>/ and makes the script exit non-zero; reproduce it with
#   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run <target> artifacts/<target>/<file>
#
# Environment: FUZZ_MAX_LEN (default 70000: any IPv4 packet plus the target's
# own header bytes).
#
# cargo-fuzz needs nightly compiler flags (-Zsanitizer); RUSTC_BOOTSTRAP=1 lets
# the stable toolchain accept them, so no nightly toolchain has to be installed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS]   (a positive whole number, default 60)" >&2
    exit 2
fi
max_len="${FUZZ_MAX_LEN:-70000}"

if [ -d "$HOME/.cargo/bin" ] && ! command -v cargo >/dev/null 2>&1; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "cargo not found (install Rust with rustup)" >&2; exit 1; }

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==== installing cargo-fuzz ===="
    cargo install cargo-fuzz --locked
fi
cargo fuzz --version

export RUSTC_BOOTSTRAP=1
cd fuzz

echo "==== building fuzz targets ===="
sanitizer=()
if ! cargo fuzz build; then
    echo "build with AddressSanitizer failed; retrying with --sanitizer none" >&2
    sanitizer=(--sanitizer none)
    cargo fuzz build "${sanitizer[@]}"
fi

mapfile -t targets < <(cargo fuzz list)
if [ ${#targets[@]} -eq 0 ]; then
    echo "no fuzz targets found in fuzz/" >&2
    exit 1
fi

failed=()
for target in "${targets[@]}"; do
    echo "==== fuzzing $target for ${seconds}s ===="
    mkdir -p "corpus/$target"
    corpora=("corpus/$target")
    [ -d "seeds/$target" ] && corpora+=("seeds/$target")
    log="$(mktemp)"
    # The outer timeout only guards against a hung run; libFuzzer stops itself.
    set +e
    timeout "$((seconds + 120))" cargo fuzz run "${sanitizer[@]}" "$target" "${corpora[@]}" -- \
        -max_total_time="$seconds" -max_len="$max_len" -timeout=10 2>&1 |
        tee "$log" | grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|ERROR|SUMMARY|Test unit written'
    status="${PIPESTATUS[0]}"
    set -e
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
    if [ "$status" -ne 0 ] || [ -z "$done_line" ]; then
        echo "FAILED: $target (exit $status); the input is in fuzz/artifacts/$target/" >&2
        tail -n 40 "$log" >&2
        failed+=("$target")
    else
        execs="$(sed -E 's/.*exec\/s: ([0-9]+).*/\1/' <<<"$done_line")"
        echo "OK $target: ${done_line%%[[:space:]]*} runs, $execs execs/s"
    fi
    rm -f "$log"
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "FAILED targets: ${failed[*]}" >&2
    exit 1
fi
echo "all ${#targets[@]} fuzz target(s) ran ${seconds}s without a crash"
