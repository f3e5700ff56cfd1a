#!/usr/bin/env bash
# Guided labs (docs/labs/): each one starts `tunstack serve` in a network
# namespace of its own, makes one thing happen, shows it, and tells you what to
# look at. Run as root:
#
#   sudo bash scripts/lab.sh                 # list the labs
#   sudo bash scripts/lab.sh NAME            # run one, then keep the stack up until Enter
#   sudo bash scripts/lab.sh NAME --check    # run it and exit 0 iff its observation holds
#   sudo bash scripts/lab.sh NAME --keep     # also keep its capture as target/lab-NAME.pcapng
#
# TUNSTACK_BIN picks the binary (default target/release/tunstack, built if
# missing). Nothing touches the host's network: the namespace
# (tunstack-lab-<pid>) and its TUN are removed on exit, whatever happens.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/netns.sh
source scripts/lib/netns.sh

LABS=(handshake two-sevens udp-queue backlog retransmit zero-window nmap ports)
STACK_ADDR=198.18.0.2
PEER=198.18.0.1/24
NAME=${1:-}
CHECK=0
KEEP=0
BIN=${TUNSTACK_BIN:-target/release/tunstack}
NS="tunstack-lab-$$"
WORK=$(mktemp -d /tmp/tunstack-lab.XXXXXX)
PCAP="$WORK/lab.pcapng"
STACK_PID=""

usage() {
    printf 'usage: scripts/lab.sh NAME [--check] [--keep]\n\nlabs (docs/labs/NAME.md explains each):\n' >&2
    printf '  %s\n' "${LABS[@]}" >&2
    exit 2
}
[ -n "$NAME" ] || usage
[[ " ${LABS[*]} " == *" $NAME "* ]] || usage
for arg in "${@:2}"; do
    case "$arg" in
        --check) CHECK=1 ;;
        --keep) KEEP=1 ;;
        *) usage ;;
    esac
done

stop_stack() {
    [ -n "$STACK_PID" ] || return 0
    kill -TERM "$STACK_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$STACK_PID" 2>/dev/null || break; sleep 0.1; done # bounded: 10 s
    kill -9 "$STACK_PID" 2>/dev/null || true
    wait "$STACK_PID" 2>/dev/null || true
    STACK_PID=""
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_stack
    if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$NS"; then ts_delete_netns "$NS"; fi
    if [ "$KEEP" = 1 ]; then ts_keep_capture "$PCAP" "target/lab-$NAME.pcapng"; fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
    printf '%sLAB %s: the observation did not hold: %s%s\n' "$TS_RED" "$NAME" "$*" "$TS_RESET" >&2
    [ -s "$WORK/stderr" ] && tail -n 20 "$WORK/stderr" >&2
    exit 1
}
in_ns() { ip netns exec "$NS" timeout -k 2 30 "$@"; }
say() { printf '%s\n' "$*"; }
# run COMMAND — print it as the learner would type it, run it in the namespace, show its output.
OUT=""
run() {
    printf '%s[%s]$ %s%s\n' "$TS_BOLD" "$NS" "$1" "$TS_RESET"
    OUT=$(in_ns bash -c "$1" 2>&1) || fail "\`$1\` failed: $OUT"
    [ -z "$OUT" ] || printf '%s\n' "$OUT" | sed 's/^/    /'
}
# expect DESCRIPTION REGEX — the last command's output must match.
expect() { if grep -Eq -- "$2" <<<"$OUT"; then ts_ok "$1"; else fail "$1 (no line matching /$2/)"; fi; }
# expect_line N DESCRIPTION REGEX — line N of the last command's output must match.
expect_line() { if sed -n "$1p" <<<"$OUT" | grep -Eq -- "$3"; then ts_ok "$2"; else fail "$2 (line $1 does not match /$3/)"; fi; }
# counter NAME — one counter of `tunstack stats`.
counter() { in_ns "$BIN" stats | awk -v n="$1" '$1 == n { print $2 }'; }
# risen NAME DESCRIPTION — counter NAME must be above 0.
risen() {
    local n
    n=$(counter "$1")
    [ "${n:-0}" -gt 0 ] || fail "$1 is ${n:-missing}"
    ts_ok "$1 = $n: $2"
}
# wait_for DESCRIPTION COMMAND — until COMMAND succeeds, bounded (10 s).
wait_for() {
    for _ in $(seq 100); do
        if bash -c "$2" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    fail "$1 (waited 10 s)"
}

start_stack() {
    printf '%s[%s]$ tunstack serve --tun tun0 --addr %s --peer %s %s%s\n' "$TS_BOLD" "$NS" "$STACK_ADDR" "$PEER" "$*" "$TS_RESET"
    ip netns exec "$NS" "$BIN" serve --tun tun0 --addr "$STACK_ADDR" --peer "$PEER" --pcap "$PCAP" "$@" \
        >"$WORK/stdout" 2>"$WORK/stderr" &
    STACK_PID=$!
    for _ in $(seq 200); do # bounded: 20 s
        grep -qx ready "$WORK/stdout" 2>/dev/null && return 0
        kill -0 "$STACK_PID" 2>/dev/null || fail "tunstack exited before printing ready"
        sleep 0.1
    done
    fail "tunstack did not print ready within 20 s"
}

# --- the labs -----------------------------------------------------------------

lab_handshake() {
    start_stack
    say "A TCP connection opens with three segments: SYN, SYN-ACK, ACK (RFC 9293 §3.5)."
    run "printf 'hello\\n' | socat -t 2 - TCP:$STACK_ADDR:7"
    expect "the echo came back" "^hello$"
    run "tshark -r $PCAP -Y 'tcp.stream eq 0' 2>/dev/null | head -n 3"
    expect_line 1 "first the kernel's SYN" "198\.18\.0\.1 .* \[SYN\] Seq=0 "
    expect_line 2 "then the stack's SYN, ACK" "198\.18\.0\.2 .* \[SYN, ACK\] Seq=0 Ack=1 "
    expect_line 3 "then the kernel's ACK: ESTABLISHED on both sides" "198\.18\.0\.1 .* \[ACK\] Seq=1 Ack=1 "
    say "Look at: the Seq= and Ack= numbers (relative: each SYN counts as one), the MSS, WS and SACK_PERM"
    say "options each side offers, and the Win= each side advertises."
}

lab_two_sevens() {
    start_stack
    say "TCP and UDP have separate port namespaces: TCP 7 and UDP 7 are two sockets, two queues."
    run "printf 'over tcp\\n' | socat -t 2 - TCP:$STACK_ADDR:7"
    expect "TCP 7 echoes" "^over tcp$"
    run "printf 'over udp\\n' | socat -t 2 - UDP:$STACK_ADDR:7"
    expect "UDP 7 echoes" "^over udp$"
    run "$BIN ss | grep -E '^Netid|:7 '"
    expect "a TCP listener on 7" "^tcp +LISTEN .*198\.18\.0\.2:7 .*echo"
    expect "a UDP socket on 7, with a queue of its own" "^udp +UNCONN .*198\.18\.0\.2:7 .*echo"
    run "$BIN ports 7"
    expect "the well-known table lists 7 twice" "^7/udp echo$"
    say "Look at: the IP header's protocol field (6 TCP, 17 UDP) picks the namespace; the port is looked up in it."
}

# flood_no_read QUEUE — start a stack whose udp/5000 is never read, flood it with 200 datagrams.
flood_no_read() {
    start_stack --udp-queue "$1" --udp-no-read 5000
    run "python3 tests/helpers/udp_flood.py $STACK_ADDR 5000 --count 200 --size 100 --max-seconds 10"
    wait_for "udp/5000's queue to reach its bound $1" \
        "ip netns exec $NS $BIN ss | grep -Eq '^udp +UNCONN .* \\($1/$1 dg\\) .*:5000 '"
    run "$BIN ss | grep -E '^Netid|:5000 '"
    expect "udp/5000 holds $1 datagrams, its bound" "\\($1/$1 dg\\)"
    DROPS=$(awk '/:5000 / { print $(NF - 1) }' <<<"$OUT")
    [ "$DROPS" -gt 0 ] || fail "nothing was dropped"
    run "$BIN stats | grep udp_rx_queue_full"
    stop_stack
}

lab_udp_queue() {
    say "A UDP socket's receive queue is bounded: what arrives while it is full is dropped and counted."
    flood_no_read 8
    local small=$DROPS
    ts_ok "with --udp-queue 8: 8 queued, $small dropped"
    flood_no_read 64
    local large=$DROPS
    ts_ok "with --udp-queue 64: 64 queued, $large dropped"
    [ "$large" -lt "$small" ] || fail "a larger queue did not drop fewer ($large vs $small)"
    ts_ok "a longer queue absorbs a longer burst: $small -> $large drops"
    say "Look at: the Drops column is per socket; udp_rx_queue_full is the same number for the whole stack."
    say "No ICMP is sent for these drops: UDP has no flow control, the sender never learns."
    start_stack --udp-queue 8 --udp-no-read 5000
}

lab_backlog() {
    start_stack --no-accept 8080
    say "A listener nobody accepts from: connections fill its accept queue (128), then SYNs are dropped."
    mkfifo "$WORK/hold"
    printf '%s[%s]$ python3 tests/helpers/tcp_syn_flood.py %s 8080 160 &%s\n' "$TS_BOLD" "$NS" "$STACK_ADDR" "$TS_RESET"
    ip netns exec "$NS" timeout 60 python3 tests/helpers/tcp_syn_flood.py "$STACK_ADDR" 8080 160 \
        <"$WORK/hold" >"$WORK/hold.out" &
    exec 7>"$WORK/hold"
    wait_for "the accept queue of tcp/8080 to fill" \
        "ip netns exec $NS $BIN ss | grep -Eq 'LISTEN +128/128 .*:8080 '"
    wait_for "a SYN refused by the full backlog" \
        "[ \"\$(ip netns exec $NS $BIN stats | awk '\$1 == \"tcp_listen_overflow\" { print \$2 }')\" -gt 0 ]"
    run "$BIN ss | grep -E '^Netid|LISTEN .*:8080 '"
    expect "the accept queue is full: 128 connections waiting for accept" "LISTEN +128/128 .*:8080 "
    risen tcp_listen_overflow "SYNs refused by the full backlog (the kernel retransmits them)"
    say "Look at: the kernel's side (ss -tn in the namespace) shows SYN-SENT for the ones the stack ignored;"
    say "they retry with back-off (1 s, 2 s, 4 s...) and get in only if accept makes room."
    exec 7>&-
}

lab_retransmit() {
    start_stack --loss 0.05 --seed 7
    say "With 5% of packets lost each way, TCP resends what was not acknowledged (RFC 6298, RFC 5681, RFC 8985)."
    run "curl -sS --max-time 25 http://$STACK_ADDR/bytes/2000000 | wc -c"
    expect "the 2 MB arrived whole" "^2000000$"
    run "$BIN stats | grep -E 'tcp_(tx_retransmits|fast_retransmits|rto_expired|loss_probes|segments_lost) '"
    risen tcp_tx_retransmits "segments sent again"
    say "Fast retransmits (three duplicate ACKs or SACK) repair most losses without waiting for a timer."
    stop_stack

    start_stack
    say "Now a blackout: the kernel drops every data segment the stack sends on tcp/7 (iptables), so"
    say "only the retransmission timer is left, and each expiry doubles it (back-off, RFC 6298 §5.5)."
    local rule="INPUT -i tun0 -p tcp --sport 7 -m length --length 100:65535 -j DROP"
    run "iptables -I $rule"
    mkfifo "$WORK/hold"
    ip netns exec "$NS" timeout 30 python3 tests/helpers/tcp_hold.py "$STACK_ADDR" 7:200 <"$WORK/hold" >"$WORK/hold.out" &
    exec 7>"$WORK/hold"
    wait_for "the held connection" "grep -q '^held ' $WORK/hold.out"
    local port
    port=$(awk '{ print $2 }' "$WORK/hold.out")
    run "python3 tests/helpers/rto_watch.py $STACK_ADDR 7 $port --count 4 --max-seconds 15"
    expect "the RTO doubles at each expiry" "^doubling$"
    run "iptables -D $rule"
    exec 7>&-
    risen tcp_rto_expired "retransmission timer expiries"
    say "Look at: rto_watch.py reads the connection's tcp_info from /api/state.json, as the dashboard does;"
    say "on the dashboard the chosen connection's sent line stays flat while it waits, and its rto grows."
    say "In the capture: tshark -r CAPTURE -Y tcp.analysis.retransmission"
}

lab_zero_window() {
    start_stack
    say "A reader that stops reading: its receive window closes to 0, and the sender probes it (persist timer)."
    mkfifo "$WORK/hold"
    ip netns exec "$NS" timeout 30 python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((sys.argv[1], 19))
print("connected", flush=True)
sys.stdin.read()' "$STACK_ADDR" <"$WORK/hold" >"$WORK/hold.out" &
    exec 7>"$WORK/hold"
    wait_for "the chargen connection" "grep -q connected $WORK/hold.out"
    wait_for "a zero-window probe" "[ \"\$(ip netns exec $NS $BIN stats | awk '\$1 == \"tcp_zero_window_probes\" { print \$2 }')\" -gt 0 ]"
    run "$BIN ss | grep -E '^Netid|:19 +198'"
    expect "chargen's Send-Q is full: nothing more may go" "ESTABLISHED .*:19 +198\.18\.0\.1"
    run "$BIN stats | grep tcp_zero_window_probes"
    run "tshark -r $PCAP -Y 'tcp.analysis.zero_window || tcp.analysis.zero_window_probe' 2>/dev/null | tail -n 4"
    expect "the kernel advertised a zero window" "ZeroWindow"
    exec 7>&-
    say "Look at: each probe is one byte past the window; the gap between probes doubles (RFC 9293 §3.8.6.1)."
}

lab_nmap() {
    start_stack --no-accept 8080 --udp-no-read 5000
    say "Scan your own host as an administrator would: every open port is something you should recognise."
    run "nmap -sS -Pn -n -p 1-1024,8080 $STACK_ADDR"
    for svc in "7/tcp +open +echo" "13/tcp +open +daytime" "80/tcp +open +http" "8080/tcp +open +http-proxy"; do
        expect "nmap finds ${svc//+/}" "^$svc"
    done
    run "nmap -sU -Pn -n -p 7,9,13,5000,5001 $STACK_ADDR"
    expect "UDP 7 answers: open" "^7/udp +open +echo"
    expect "UDP 5001 answers ICMP port unreachable: closed" "^5001/udp +closed"
    say "Look at: a closed TCP port answers RST, a closed UDP port ICMP port unreachable; an open UDP port"
    say "that says nothing back (discard, 5000) is 'open|filtered': UDP cannot tell silence from loss."
}

lab_ports() {
    start_stack
    say "Servers listen on well-known ports; clients get ephemeral ones, picked at random (RFC 6056)."
    run "$BIN ports http"
    expect "http is TCP 80" "^80/tcp http$"
    mkfifo "$WORK/hold"
    ip netns exec "$NS" timeout 30 python3 tests/helpers/tcp_hold.py "$STACK_ADDR" 7:0 13:0 <"$WORK/hold" >"$WORK/hold.out" &
    exec 7>"$WORK/hold"
    wait_for "two held connections" "grep -q '^held ' $WORK/hold.out"
    run "$BIN ss | grep -E '^Netid|ESTAB'"
    run "cat /proc/sys/net/ipv4/ip_local_port_range"
    local lo hi port
    read -r lo hi <<<"$OUT"
    port=$(awk '{ print $2 }' "$WORK/hold.out")
    [ "$port" -ge "$lo" ] && [ "$port" -le "$hi" ] || fail "the kernel's port $port is outside $lo-$hi"
    ts_ok "the kernel's client port $port is from its ephemeral range $lo-$hi"
    run "$BIN ports $port"
    expect "and no service is registered on it" "no well-known service"
    exec 7>&-
    say "Look at: the stack picks its own ephemeral ports from 49152-65535 (tunstack ports 50000 says why);"
    say "Linux uses 32768-60999 by default. tunstack ports with no argument lists the whole table."
}

# --- run ------------------------------------------------------------------------

ts_is_root || ts_die "run as root (it creates a network namespace and a TUN device): sudo bash scripts/lab.sh $NAME"
[ -e /dev/net/tun ] || ts_die "/dev/net/tun is missing (modprobe tun)"
if [ ! -x "$BIN" ]; then
    ts_ensure_cargo_path
    cargo build --release
fi
[ -x "$BIN" ] || ts_die "$BIN was not built"
ts_install_missing socat:socat python3:python3 curl:curl nmap:nmap tshark:tshark iptables:iptables >/dev/null ||
    ts_die "the labs need socat, python3, curl, nmap, tshark and iptables"
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ts_section "lab: $NAME (docs/labs/$NAME.md)"
"lab_${NAME//-/_}"
ts_ok "lab $NAME: the observation holds"
if [ "$CHECK" = 0 ] && [ -t 0 ]; then
    say ""
    say "The stack is still running. In another terminal, as root:"
    say "  ip netns exec $NS $BIN ss                   # its sockets"
    say "  ip netns exec $NS curl -s http://$STACK_ADDR/sockets"
    say "  ip netns exec $NS chromium --no-sandbox http://$STACK_ADDR/   # the live dashboard"
    say "  tshark -r $PCAP                              # every packet so far"
    read -r -p "Press Enter to end the lab. " _
fi
