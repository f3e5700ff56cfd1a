#!/usr/bin/env bash
# The project's test command (README): run as root on a Debian machine.
#
#   bash scripts/test.sh
#
# Installs what is missing, builds, runs every test (the end-to-end tests
# create their own network namespaces and TUNs, nothing touches the host's
# network), runs each fuzz target for FUZZ_SECONDS (default 20), then clippy. Exits non-zero if anything failed.
# With CI=true, end-to-end tests whose prerequisites (root, /dev/net/tun,
# ip netns, tools) are missing FAIL instead of being skipped.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/netns.sh
source scripts/lib/netns.sh

ts_section "tunstack tests (CI=${CI:-unset}, $(uname -sr))"
if ! ts_is_root; then
    ts_warn "not running as root: the end-to-end TUN tests will be SKIPPED (or FAIL when CI=true)"
fi

ts_section "prerequisites"
ts_ensure_cargo_path
ts_install_missing socat:socat ncat:ncat ip:iproute2 python3:python3 ping:iputils-ping \
    ps:procps timeout:coreutils curl:curl nmap:nmap ss:iproute2 bash:bash iptables:iptables \
    tshark:tshark hping3:hping3 rsvg-convert:librsvg2-bin chromium:chromium ||
    ts_warn "some tools are missing; tests needing them will SKIP (or FAIL when CI=true)"
command -v cargo >/dev/null 2>&1 || ts_die "cargo not found (install Rust with rustup)"
cargo --version
rustc --version

ts_section "stale namespaces"
ts_cleanup_stale_namespaces
trap 'ts_section "cleanup"; ts_cleanup_stale_namespaces' EXIT

failed=()

# The core's imports point one way (DESIGN.md, "Layers"): wire ← ip ← {icmp, udp,
# tcp} ← stack, and tools see only the core's face. The check proves itself first
# on a copy of src with an upward import planted in it.
ts_section "layers: imports point down only"
if python3 scripts/check_layers.py --self-test >/dev/null && python3 scripts/check_layers.py; then
    ts_ok "layers"
else
    failed+=("layers")
fi

# The `tokio` feature (tokio's AsyncRead/AsyncWrite on the async API) is built,
# tested and linted too; without it the crate is the same minus src/aio/tokio.rs.
ts_section "cargo build --all-targets --features tokio"
if cargo build --all-targets --features tokio; then
    ts_ok "build"
else
    failed+=("cargo build")
fi

if [ ${#failed[@]} -eq 0 ] || [ "${failed[*]}" = "layers" ]; then
    ts_section "cargo test --all-targets --features tokio --no-fail-fast"
    if cargo test --all-targets --features tokio --no-fail-fast; then
        ts_ok "tests"
    else
        failed+=("cargo test")
    fi
    # --all-targets leaves out the doctests: the README's and
    # docs/prototyping.md's code blocks (src/lib.rs includes them) and the
    # examples in doc comments must compile too.
    ts_section "cargo test --doc --features tokio"
    if cargo test --doc --features tokio --no-fail-fast; then
        ts_ok "doctests"
    else
        failed+=("cargo test --doc")
    fi
fi

# The public packetdrill suites (../shared/conformance, test data beside the
# repository, never copied into it): the FreeBSD tcp-testsuite's
# state-event-engine with the freebsd profile must do at least as well as
# scripts/lib/freebsd-state-event-engine.freebsd.expect says (all 614 scripts,
# IPv4 and IPv6, pass, so it lists none). Without the data the step says loudly
# that it was skipped. SHARED_DIR overrides where the data is looked for.
shared_dir="${SHARED_DIR:-../shared}"
suite="$shared_dir/conformance/freebsd-tcp-testsuite/state-event-engine"
if [ -d "$suite" ]; then
    ts_section "conformance: FreeBSD state-event-engine, freebsd profile"
    if bash scripts/conformance.sh "$suite" --profile freebsd --json target/conformance.json \
        --expect scripts/lib/freebsd-state-event-engine.freebsd.expect; then
        ts_ok "conformance"
    else
        failed+=("conformance")
    fi
else
    ts_warn "$suite is not there: the conformance suites were NOT run (set SHARED_DIR)"
fi

# The same TUN tests once more on the other device path: the TUN opened with
# virtio-net headers and checksum/TSO offloads (TUNSTACK_OFFLOAD=1, which the
# tunstack binary reads; the harness checks that its banner says so).
if [ ${#failed[@]} -eq 0 ]; then
    tun_tests=()
    for f in $(grep -l "Netns::new" tests/*.rs); do tun_tests+=(--test "$(basename "$f" .rs)"); done
    ts_section "TUN tests with offloads: ${tun_tests[*]}"
    if TUNSTACK_OFFLOAD=1 cargo test --features tokio --no-fail-fast "${tun_tests[@]}"; then
        ts_ok "tests with offloads"
    else
        failed+=("cargo test (offloads)")
    fi
fi

# The guided labs (docs/labs/): each one's observation must hold. Each runs in
# its own namespace and takes a few seconds (all eight: about 15 s).
if [ ${#failed[@]} -eq 0 ]; then
    ts_section "labs: scripts/lab.sh NAME --check"
    lab_failed=()
    for lab in handshake two-sevens udp-queue backlog retransmit zero-window nmap ports; do
        # --keep: each lab's capture stays as target/lab-NAME.pcapng for a person to look at.
        # The TCP labs' captures are plotted too, as target/lab-NAME.svg.
        plot=(true)
        case $lab in handshake | retransmit | zero-window)
            plot=(target/debug/tunstack plot "target/lab-$lab.pcapng" -o "target/lab-$lab.svg") ;;
        esac
        if TUNSTACK_BIN=target/debug/tunstack timeout -k 5 120 bash scripts/lab.sh "$lab" --check --keep \
            >"target/lab-$lab.log" 2>&1 && "${plot[@]}" >>"target/lab-$lab.log"; then
            ts_ok "lab $lab"
        else
            tail -n 20 "target/lab-$lab.log"
            lab_failed+=("$lab")
        fi
    done
    [ ${#lab_failed[@]} -eq 0 ] || failed+=("labs: ${lab_failed[*]}")
fi

# Every fuzz target briefly (scripts/fuzz.sh builds them with cargo-fuzz, installing
# it if missing): a crash found by a long local run and fixed stays fixed, and a
# target that no longer builds is noticed. FUZZ_SECONDS=0 skips this step.
fuzz_seconds="${FUZZ_SECONDS:-20}"
if [ "$fuzz_seconds" != 0 ]; then
    ts_section "fuzz targets, ${fuzz_seconds}s each"
    if bash scripts/fuzz.sh "$fuzz_seconds"; then
        ts_ok "fuzz"
    else
        failed+=("fuzz")
    fi
fi

ts_section "cargo clippy --all-targets --features tokio -- -D warnings"
if ! cargo clippy --version >/dev/null 2>&1; then
    ts_info "clippy missing; trying: rustup component add clippy"
    rustup component add clippy || true
fi
if cargo clippy --version >/dev/null 2>&1; then
    if cargo clippy --all-targets --features tokio -- -D warnings; then
        ts_ok "clippy"
    else
        failed+=("cargo clippy")
    fi
else
    ts_warn "clippy is not installed and could not be installed (offline?): lint step SKIPPED"
fi

ts_section "summary"
if [ ${#failed[@]} -ne 0 ]; then
    printf '%sFAILED:%s %s\n' "$TS_RED" "$TS_RESET" "${failed[*]}"
    exit 1
fi
ts_ok "build, tests and clippy all passed"
