#!/usr/bin/env bash
# Regenerate the fuzz seed corpora from real packets. Run as root:
#
#   sudo bash scripts/fuzz_seeds.sh
#
# Starts `tunstack serve --pcap` in a network namespace of its own
# (tunstack-seeds-<pid>: kernel 198.18.0.1/24 on tun0, stack 198.18.0.2), has the
# kernel talk to it for a few seconds — pings (one fragmented), UDP echo (one
# datagram fragmented), UDP to a closed port, a TCP echo connection with data both
# ways and a clean close, an HTTP GET, a TCP connection refused — then turns the
# packets the kernel sent into seed files with scripts/lib/pcap_to_seeds.py:
#
#   fuzz/seeds/ip_input/kernel_*     one packet each, in ip_input's layout
#   fuzz/seeds/wire_parse/kernel_*   one packet of each kind, and TCP segments alone
#   fuzz/seeds/tcp_conn/kernel_*     the kernel's TCP segments as tcp_conn actions
#   fuzz/seeds/two_stacks/kernel_*   the packets injected into host B, plus a few
#                                    two-host programs (connect, write, read, close)
#
# Old kernel_* seeds are replaced; hand-written seeds are left alone. Nothing
# touches the host's network: the namespace and its TUN are removed on exit.
#
# Environment: TUNSTACK_BIN uses that build instead of `cargo build`; KEEP_PCAP=FILE
# keeps the capture.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/netns.sh
source scripts/lib/netns.sh

NS="tunstack-seeds-$$"
STACK_ADDR=198.18.0.2
PEER=198.18.0.1/24
BIN=${TUNSTACK_BIN:-target/debug/tunstack}
WORK=$(mktemp -d /tmp/tunstack-seeds.XXXXXX)
PCAP="$WORK/seeds.pcapng"
STACK_PID=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$STACK_PID" ] && kill -0 "$STACK_PID" 2>/dev/null; then
        kill -9 "$STACK_PID" 2>/dev/null || true
    fi
    if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$NS"; then
        ts_delete_netns "$NS"
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_ns() { ip netns exec "$NS" timeout -k 2 30 "$@"; }

ts_section "fuzz seeds from real packets"
ts_is_root || ts_die "run as root (it creates a network namespace and a TUN device)"
[ -e /dev/net/tun ] || ts_die "/dev/net/tun is missing (modprobe tun)"
ts_ensure_cargo_path
ts_install_missing ip:iproute2 python3:python3 ping:iputils-ping curl:curl timeout:coreutils
ts_cleanup_stale_namespaces

if [ -z "${TUNSTACK_BIN:-}" ]; then
    ts_section "build"
    cargo build
fi
[ -x "$BIN" ] || ts_die "$BIN was not built"

ts_section "capture"
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
# No IPv6 chatter (router solicitations) into the TUN: only the exchange below.
# shellcheck disable=SC2016 # expanded by the inner sh
ip netns exec "$NS" sh -c 'for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do
    [ -w "$f" ] && echo 1 >"$f"; done; true'
ip netns exec "$NS" "$BIN" serve --tun tun0 --addr "$STACK_ADDR" --peer "$PEER" --pcap "$PCAP" \
    >"$WORK/stdout" 2>"$WORK/stderr" &
STACK_PID=$!
for _ in $(seq 200); do # bounded: 20 s
    grep -qx ready "$WORK/stdout" && break
    kill -0 "$STACK_PID" 2>/dev/null || { cat "$WORK/stderr" >&2; ts_die "tunstack exited before printing ready"; }
    sleep 0.1
done
grep -qx ready "$WORK/stdout" || ts_die "tunstack did not print ready within 20 s"

in_ns ping -c 2 -i 0.2 -W 2 "$STACK_ADDR" >/dev/null
in_ns ping -c 1 -W 2 -s 3000 "$STACK_ADDR" >/dev/null
in_ns python3 tests/helpers/udp_echo.py "$STACK_ADDR" 7 0 100 3000 >/dev/null
in_ns python3 tests/helpers/udp_refused.py "$STACK_ADDR" 4444 >/dev/null
in_ns python3 tests/helpers/tcp_echo.py "$STACK_ADDR" 7 1 20000 >/dev/null
in_ns curl -sS --max-time 10 -o /dev/null "http://$STACK_ADDR/"
in_ns python3 -c "
import socket, sys
try:
    socket.create_connection(('$STACK_ADDR', 5555), timeout=5)
except ConnectionRefusedError:
    sys.exit(0)
sys.exit('port 5555 did not refuse')"
# The last ACKs of the TCP closes reach the stack promptly; give them a moment.
sleep 0.5
kill -TERM "$STACK_PID"
wait "$STACK_PID" || true
STACK_PID=""
ts_ok "captured $(stat -c %s "$PCAP") bytes"
if [ -n "${KEEP_PCAP:-}" ]; then cp "$PCAP" "$KEEP_PCAP"; fi

ts_section "seeds"
python3 scripts/lib/pcap_to_seeds.py "$PCAP" fuzz/seeds
