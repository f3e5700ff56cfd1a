# shellcheck shell=bash
# Helpers for scripts/bench.sh. Source it after scripts/lib/netns.sh, with
# BENCH_PREFIX (namespace name prefix), WORK (scratch directory) and RAW (the
# JSON-lines file of raw results) set.
#
# Every namespace made here is named "$BENCH_PREFIX-<name>" and recorded in
# BENCH_NAMESPACES; every server started here is recorded in BENCH_PIDS, so
# bench_cleanup can remove exactly what this run made.

BENCH_NAMESPACES=()
declare -A BENCH_PIDS=()

# bench_ns NAME — a fresh namespace with loopback up and IPv6 off (no router
# solicitations into the TUN).
bench_ns() {
    local ns="$BENCH_PREFIX-$1"
    ip netns add "$ns"
    BENCH_NAMESPACES+=("$ns")
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || true
}

# bench_in NAME CMD... — run CMD inside namespace NAME.
bench_in() {
    local ns="$BENCH_PREFIX-$1"
    shift
    ip netns exec "$ns" "$@"
}

# bench_client_sysctls NAME — where the kernel clients run: every port usable
# for outgoing connections, and TIME-WAIT ports reused for new ones (the
# connection-rate test opens tens of thousands in a few seconds).
bench_client_sysctls() {
    bench_in "$1" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
}

# bench_veth CLIENT SERVER MTU — a veth pair between two namespaces: the client
# side is 198.18.0.1/24, the server side 198.18.0.2/24, as on the TUN.
bench_veth() {
    local c="$BENCH_PREFIX-$1" s="$BENCH_PREFIX-$2" mtu=$3
    ip link add "bv$$" netns "$c" type veth peer name "bw$$" netns "$s"
    ip -n "$c" link set "bv$$" name veth0 mtu "$mtu" up
    ip -n "$s" link set "bw$$" name veth0 mtu "$mtu" up
    ip -n "$c" addr add 198.18.0.1/24 dev veth0
    ip -n "$s" addr add 198.18.0.2/24 dev veth0
}

# bench_start KEY NAME CMD... — start a server in namespace NAME and wait (at
# most 20 s) for it to print "ready". Its output goes to $WORK/KEY.out/.err.
bench_start() {
    local key=$1 ns="$BENCH_PREFIX-$2"
    shift 2
    : >"$WORK/$key.out"
    ip netns exec "$ns" "$@" >"$WORK/$key.out" 2>"$WORK/$key.err" &
    BENCH_PIDS[$key]=$!
    local i
    for i in $(seq 200); do
        grep -qx ready "$WORK/$key.out" && return 0
        kill -0 "${BENCH_PIDS[$key]}" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$WORK/$key.err" >&2
    ts_die "$key ($*) did not print ready within 20 s (attempt $i)"
}

# bench_stop KEY — SIGTERM, then SIGKILL after 10 s.
bench_stop() {
    local pid=${BENCH_PIDS[$1]:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "BENCH_PIDS[$1]"
}

bench_cleanup() {
    local key ns
    for key in "${!BENCH_PIDS[@]}"; do bench_stop "$key"; done
    for ns in "${BENCH_NAMESPACES[@]}"; do ts_delete_netns "$ns"; done
}

# bench_rss_kib PID — resident memory of a process (VmRSS, KiB).
bench_rss_kib() {
    awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

# bench_record TEST MTU CONTENDER RUN NS CMD... — run one measurement (bounded
# to 120 s) in namespace NS and append it, tagged, to $RAW. A failed run is
# recorded as an error and reported, not fatal: the table shows the gap.
bench_record() {
    local test=$1 mtu=$2 contender=$3 run=$4 ns=$5
    shift 5
    local out rc=0
    out=$(bench_in "$ns" timeout -k 5 120 "$@" 2>"$WORK/last.err") || rc=$?
    if [ "$rc" -eq 0 ] && [ -n "$out" ]; then
        printf '{"test":"%s","mtu":%s,"contender":"%s","run":%s,"result":%s}\n' \
            "$test" "$mtu" "$contender" "$run" "$out" >>"$RAW"
        printf '  %-10s mtu %-5s %-8s run %s  %s\n' "$test" "$mtu" "$contender" "$run" "$out"
    else
        local why
        # One line, without the quotes and backslashes that would break the JSON.
        # shellcheck disable=SC1003 # a backslash, deleted: no quote is being escaped
        why=$(tr -d '"\\' <"$WORK/last.err" | tr '\n' ' ' | cut -c1-300)
        printf '{"test":"%s","mtu":%s,"contender":"%s","run":%s,"error":"exit %s: %s"}\n' \
            "$test" "$mtu" "$contender" "$run" "$rc" "$why" >>"$RAW"
        ts_warn "$test mtu $mtu $contender run $run failed (exit $rc): $why"
    fi
}

# bench_record_value TEST MTU CONTENDER RUN JSON — append a figure measured by
# the script itself (memory).
bench_record_value() {
    printf '{"test":"%s","mtu":%s,"contender":"%s","run":%s,"result":%s}\n' "$1" "$2" "$3" "$4" "$5" >>"$RAW"
    printf '  %-10s mtu %-5s %-8s run %s  %s\n' "$1" "$2" "$3" "$4" "$5"
}
