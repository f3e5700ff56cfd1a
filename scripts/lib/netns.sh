# shellcheck shell=bash
# Shared helpers for scripts/test.sh and scripts/demo.sh. Source it, don't run it.
#
# Nothing here opens a TUN or sends a packet: it prints, installs missing
# Debian packages, and removes network namespaces that earlier runs of this
# project left behind (tunstack-t-<pid>-* from the Rust tests,
# tunstack-demo-<pid> from the demo, tunstack-bench-<pid>-* from the benchmark,
# tunstack-seeds-<pid> from fuzz_seeds.sh, tunstack-lab-<pid> from lab.sh)
# once the process that made them is gone.

if [ -t 1 ]; then
    TS_BOLD=$'\033[1m' TS_RED=$'\033[31m' TS_YELLOW=$'\033[33m' TS_GREEN=$'\033[32m' TS_RESET=$'\033[0m'
else
    TS_BOLD='' TS_RED='' TS_YELLOW='' TS_GREEN='' TS_RESET=''
fi

ts_section() { printf '\n%s==== %s ====%s\n' "$TS_BOLD" "$*" "$TS_RESET"; }
ts_info() { printf '%s\n' "$*"; }
ts_ok() { printf '%sOK%s %s\n' "$TS_GREEN" "$TS_RESET" "$*"; }
ts_warn() {
    printf '%s!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' "$TS_YELLOW" >&2
    printf '!!! WARNING: %s\n' "$*" >&2
    printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!%s\n' "$TS_RESET" >&2
}
ts_die() {
    printf '%sERROR: %s%s\n' "$TS_RED" "$*" "$TS_RESET" >&2
    exit 1
}

ts_is_root() { [ "$(id -u)" -eq 0 ]; }

# Cargo installed by rustup lives in ~/.cargo/bin, which a non-login shell
# (CI) may not have on PATH.
ts_ensure_cargo_path() {
    if [ -d "${HOME:-/root}/.cargo/bin" ]; then
        case ":$PATH:" in
            *":${HOME:-/root}/.cargo/bin:"*) ;;
            *) PATH="${HOME:-/root}/.cargo/bin:$PATH" ;;
        esac
        export PATH
    fi
}

# ts_install_missing CMD:PACKAGE ... — apt-get installs the packages whose
# command is not on PATH (apt-get update once, and only if something is missing).
ts_install_missing() {
    local pair cmd pkg missing=()
    for pair in "$@"; do
        cmd=${pair%%:*}
        pkg=${pair#*:}
        if command -v "$cmd" >/dev/null 2>&1; then
            ts_info "  found $cmd: $(command -v "$cmd")"
        else
            ts_info "  missing $cmd (Debian package $pkg)"
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    if ! ts_is_root; then
        ts_warn "not root: cannot apt-get install ${missing[*]}"
        return 1
    fi
    ts_info "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark's wireshark-common asks whether non-root users may capture; answer
    # "no" up front so the install never stops at a prompt.
    if command -v debconf-set-selections >/dev/null 2>&1; then
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    fi
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
    for pair in "$@"; do
        cmd=${pair%%:*}
        command -v "$cmd" >/dev/null 2>&1 || ts_die "$cmd still missing after apt-get install ${pair#*:}"
    done
}

# ts_keep_capture SRC DEST — copy a capture out of a run's temporary directory
# (the --keep of demo.sh and lab.sh), saying where it went.
ts_keep_capture() {
    [ -s "$1" ] || return 0
    mkdir -p "$(dirname "$2")" && cp "$1" "$2" && printf 'capture kept: %s\n' "$2"
}

# Deletes one namespace after killing (by pid) whatever still runs in it.
ts_delete_netns() {
    local ns=$1 pid
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
        kill -9 "$pid" 2>/dev/null || true
    done
    ip netns del "$ns" 2>/dev/null || true
}

# Removes tunstack-t-<pid>-*, tunstack-demo-<pid>, tunstack-bench-<pid>-*,
# tunstack-seeds-<pid> and tunstack-lab-<pid> namespaces whose creating
# process <pid> no longer exists (a concurrent run's namespaces are left alone).
ts_cleanup_stale_namespaces() {
    command -v ip >/dev/null 2>&1 || return 0
    ts_is_root || return 0
    local ns owner n=0
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        case "$ns" in
            tunstack-t-*) owner=${ns#tunstack-t-}; owner=${owner%%-*} ;;
            tunstack-demo-*) owner=${ns#tunstack-demo-} ;;
            tunstack-bench-*) owner=${ns#tunstack-bench-}; owner=${owner%%-*} ;;
            tunstack-seeds-*) owner=${ns#tunstack-seeds-} ;;
            tunstack-lab-*) owner=${ns#tunstack-lab-} ;;
            *) continue ;;
        esac
        if [[ "$owner" =~ ^[0-9]+$ ]] && kill -0 "$owner" 2>/dev/null; then
            continue
        fi
        ts_info "  removing stale namespace $ns"
        ts_delete_netns "$ns"
        n=$((n + 1))
    done
    ts_info "  stale tunstack namespaces removed: $n"
}
