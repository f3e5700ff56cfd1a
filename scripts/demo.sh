#!/usr/bin/env bash
# tunstack demo — the README's first command. Run as root on a Debian machine:
#
#   sudo bash scripts/demo.sh [--keep]
#
# Builds tunstack, starts `tunstack serve` in a network namespace of its own
# (tunstack-demo-<pid>: kernel side 198.18.0.1/24 on tun0, stack 198.18.0.2),
# then shows, step by step, the Linux kernel talking to the user-space stack
# through the TUN with everyday tools (ping, socat, ncat, python3), and what
# the stack sees meanwhile (`tunstack ss`, `tunstack stats`). Every
# command is printed before it runs and its output is checked; the script
# exits 0 only if every step worked. Nothing touches the host's network: the
# namespace and the TUN are removed on exit, whatever happens. With --keep, the
# capture of the whole demo is kept as target/demo.pcapng.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/netns.sh
source scripts/lib/netns.sh

KEEP=0
case "${1:-}" in
    --keep) KEEP=1 ;;
    "") ;;
    *) printf 'usage: scripts/demo.sh [--keep]\n' >&2; exit 2 ;;
esac
NS="tunstack-demo-$$"
STACK_ADDR=198.18.0.2
PEER=198.18.0.1/24
UDP_QUEUE=16 # tiny on purpose, so the flood step can show drops being counted
FLOOD_COUNT=3000
BIN=${TUNSTACK_BIN:-target/release/tunstack} # TUNSTACK_BIN: use another build, skip cargo
WORK=$(mktemp -d /tmp/tunstack-demo.XXXXXX)
STACK_OUT="$WORK/stdout"
STACK_ERR="$WORK/stderr"
PCAP="$WORK/demo.pcapng"
STACK_PID=""
HOLD_PID="" # the kernel client holding TCP connections open for the `ss` step

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    exec 7>&- 2>/dev/null || true
    if [ -n "$HOLD_PID" ]; then kill "$HOLD_PID" 2>/dev/null || true; fi
    if [ -n "$STACK_PID" ] && kill -0 "$STACK_PID" 2>/dev/null; then
        kill -TERM "$STACK_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$STACK_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$STACK_PID" 2>/dev/null || true
    fi
    # A stack killed by force could not remove its control socket.
    local control
    control=$(sed -n 's/^control //p' "$STACK_OUT" 2>/dev/null || true)
    if [ -n "$control" ] && [ -S "$control" ]; then rm -f "$control"; fi
    if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$NS"; then
        ts_delete_netns "$NS"
    fi
    if [ "$KEEP" = 1 ]; then ts_keep_capture "$PCAP" target/demo.pcapng; fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
    printf '\n%sDEMO FAILED: %s%s\n' "$TS_RED" "$*" "$TS_RESET" >&2
    if [ -s "$STACK_ERR" ]; then
        printf -- '--- tunstack stderr (last 30 lines) ---\n' >&2
        tail -n 30 "$STACK_ERR" >&2
    fi
    exit 1
}

in_ns() { ip netns exec "$NS" "$@"; }

STEP=0
OUT=""
# step TITLE COMMAND — prints the command, runs it (bounded) in the namespace,
# shows its output; fails the demo if it exits non-zero.
step() {
    STEP=$((STEP + 1))
    ts_section "step $STEP: $1"
    printf '%s[%s]$ %s%s\n' "$TS_BOLD" "$NS" "$2" "$TS_RESET"
    local rc=0
    OUT=$(in_ns timeout -k 2 30 bash -c "$2" 2>&1) || rc=$?
    if [ -n "$OUT" ]; then printf '%s\n' "$OUT" | sed 's/^/    /'; fi
    [ "$rc" -eq 0 ] || fail "step $STEP ($1): command exited with status $rc"
}
# check DESCRIPTION REGEX — the last step's output must match.
check() {
    if grep -Eq -- "$2" <<<"$OUT"; then ts_ok "$1"; else fail "step $STEP: $1 (expected output matching /$2/)"; fi
}

tun_stat() { in_ns cat "/sys/class/net/tun0/statistics/$1"; }

# ---------------------------------------------------------------------------
ts_section "tunstack demo"
ts_is_root || ts_die "run as root (it creates a network namespace and a TUN device): sudo bash scripts/demo.sh"
[ -e /dev/net/tun ] || ts_die "/dev/net/tun is missing (modprobe tun)"

ts_section "prerequisites"
ts_ensure_cargo_path
ts_install_missing socat:socat ncat:ncat ip:iproute2 python3:python3 ping:iputils-ping timeout:coreutils curl:curl \
    nmap:nmap tshark:tshark iptables:iptables
command -v cargo >/dev/null 2>&1 || ts_die "cargo not found (install Rust with rustup)"
ts_cleanup_stale_namespaces

ts_section "build"
if [ -z "${TUNSTACK_BIN:-}" ]; then
    printf '$ cargo build --release\n'
    cargo build --release
fi
[ -x "$BIN" ] || fail "$BIN was not built"

ts_section "network namespace"
printf '$ ip netns add %s\n' "$NS"
ip netns add "$NS"
in_ns ip link set lo up
# No IPv6 chatter (router solicitations...) into the TUN: it would blur the flood's packet counts.
# shellcheck disable=SC2016 # expanded by the inner sh
in_ns sh -c 'for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do
    [ -w "$f" ] && echo 1 >"$f"; done; true'
ts_info "Everything below runs inside $NS (ip netns exec $NS ...): the kernel's"
ts_info "side of the TUN is 198.18.0.1, the user-space stack is $STACK_ADDR."

ts_section "start the stack"
printf '[%s]$ %s serve --tun tun0 --addr %s --peer %s --udp-queue %s --no-accept 8080 --pcap %s\n' \
    "$NS" "$BIN" "$STACK_ADDR" "$PEER" "$UDP_QUEUE" "$PCAP"
ts_info "(--udp-queue $UDP_QUEUE: tiny receive queues, so that the flood step below shows drops;"
ts_info " --no-accept 8080: a listener nobody accepts from, for the backlog step;"
ts_info " --pcap: every packet in and out is recorded, for tshark at the end)"
ip netns exec "$NS" "$BIN" serve --tun tun0 --addr "$STACK_ADDR" --peer "$PEER" --udp-queue "$UDP_QUEUE" \
    --no-accept 8080 --pcap "$PCAP" >"$STACK_OUT" 2>"$STACK_ERR" &
STACK_PID=$!
for _ in $(seq 200); do # bounded: 20 s
    grep -qx ready "$STACK_OUT" && break
    kill -0 "$STACK_PID" 2>/dev/null || fail "tunstack exited before printing ready"
    sleep 0.1
done
grep -qx ready "$STACK_OUT" || fail "tunstack did not print ready within 20 s"
sed 's/^/    /' "$STACK_OUT"
for svc in "udp/7 echo" "udp/9 discard" "udp/13 daytime" "udp/19 chargen"; do
    grep -qx "listening $svc" "$STACK_OUT" || fail "no 'listening $svc' line"
done
CONTROL=$(sed -n 's/^control //p' "$STACK_OUT")
[ -S "$CONTROL" ] || fail "no control socket (the 'control PATH' line)"
ts_ok "tunstack is up (pid $STACK_PID) with its TCP and UDP services"
ts_info "    its control socket $CONTROL (mode $(stat -c %a "$CONTROL")) answers tunstack ss and tunstack stats"
in_ns ip -brief address show dev tun0 | sed 's/^/    /'
ts_info "    the live dashboard, served by the stack itself: http://$STACK_ADDR/ (from inside the namespace:"
ts_info "    ip netns exec $NS chromium --no-sandbox http://$STACK_ADDR/ , or curl http://$STACK_ADDR/api/state.json)"

# ---------------------------------------------------------------------------
step "ICMP: the kernel pings the stack" \
    "ping -c 3 -W 2 $STACK_ADDR"
check "3 echo replies" "3 packets transmitted, 3 received"

step "ICMP: a 4000-byte ping, fragmented both ways at MTU 1500" \
    "ping -c 1 -W 5 -s 4000 $STACK_ADDR"
check "fragmented echo reply reassembled by the kernel" "4008 bytes from $STACK_ADDR"

step "UDP echo (RFC 862, port 7) with socat" \
    "printf 'hello tunstack\\n' | socat -t 2 - UDP:$STACK_ADDR:7"
[ "$OUT" = "hello tunstack" ] || fail "socat did not get its line echoed"
ts_ok "line echoed back"

step "UDP echo of random payloads of 0, 1, 1472 and 4000 bytes, compared byte for byte" \
    "python3 tests/helpers/udp_echo.py $STACK_ADDR 7 0 1 1472 4000"
check "4000-byte datagram echoed exactly" "^OK size=4000$"

step "UDP discard (RFC 863, port 9) with ncat: nothing comes back" \
    "printf 'into the void\\n' | ncat -u $STACK_ADDR 9"
[ -z "$OUT" ] || fail "discard answered"
ts_ok "no answer (the sockets report at the end counts it)"

step "UDP daytime (RFC 867, port 13) with socat" \
    "printf '\\n' | socat -t 2 - UDP:$STACK_ADDR:13"
check "the answer holds the current year" "$(date -u +%Y)|$(date +%Y)"

step "UDP chargen (RFC 864, port 19) with a Python client" \
    "python3 tests/helpers/udp_services.py chargen $STACK_ADDR"
check "printable ASCII answer" "^OK chargen [0-9]+ bytes$"

step "UDP to a closed port: the stack answers ICMP port unreachable, a connected socket sees ECONNREFUSED" \
    "python3 tests/helpers/udp_refused.py $STACK_ADDR 9999"
check "ECONNREFUSED" "^REFUSED$"

step "TCP echo (port 7): the three-way handshake, a line there and back, FIN both ways" \
    "printf 'hello over tcp\\n' | socat -t 2 - TCP:$STACK_ADDR:7"
[ "$OUT" = "hello over tcp" ] || fail "TCP echo did not return the line"
ts_ok "TCP echo returned the line"

step "TCP daytime (port 13) — TCP 13 and UDP 13 are different ports, both open" \
    "socat -t 2 - TCP:$STACK_ADDR:13 </dev/null"
check "the answer holds the current year" "$(date -u +%Y)|$(date +%Y)"

step "HTTP (port 80): curl fetches the index page" \
    "curl -sS --max-time 10 http://$STACK_ADDR/ | head -n 5"
check "the index page" "tunstack"

step "HTTP download of 10 MiB, checked byte for byte" \
    "curl -sS --max-time 30 http://$STACK_ADDR/bytes/10485760 | python3 -c 'import sys; d=sys.stdin.buffer.read(); assert len(d)==10485760 and all(d[i]==i%256 for i in range(0,len(d),4093)); print(\"OK\", len(d), \"bytes\")'"
check "10 MiB intact" "^OK 10485760 bytes$"

step "nmap SYN-scans the well-known TCP ports (1-1024) and names the services it finds open" \
    "nmap -sS -Pn -n -p 1-1024 $STACK_ADDR"
for svc in "7/tcp +open +echo" "9/tcp +open +discard" "13/tcp +open +daytime" "19/tcp +open +chargen" "80/tcp +open +http"; do
    check "nmap sees ${svc//+/}" "^$svc"
done
check "and nothing else: 1019 closed ports answered with RST" "Not shown: 1019 closed"

step "nmap scans UDP 7, 13 and 19: TCP 7 and UDP 7 are separate ports, and both are open" \
    "nmap -sU -Pn -n -p 7,13,19 $STACK_ADDR"
for svc in "7/udp +open +echo" "13/udp +open +daytime" "19/udp +open +chargen"; do
    check "nmap sees ${svc//+/}" "^$svc"
done

step "TCP to a closed port: the stack answers RST, the kernel reports 'Connection refused'" \
    "socat -t 2 - TCP:$STACK_ADDR:5555 </dev/null 2>&1 || true"
check "refused" "Connection refused"

# ---------------------------------------------------------------------------
ts_section "connections held open while tunstack ss looks"
printf '[%s]$ python3 tests/helpers/tcp_hold.py %s 7:15 9:3000 &\n' "$NS" "$STACK_ADDR"
ts_info "(two kernel connections stay open: one to TCP echo, one to TCP discard)"
mkfifo "$WORK/hold.in"
in_ns timeout 30 python3 tests/helpers/tcp_hold.py "$STACK_ADDR" 7:15 9:3000 <"$WORK/hold.in" >"$WORK/hold.out" &
HOLD_PID=$!
exec 7>"$WORK/hold.in" # the helper holds its connections until this closes
for _ in $(seq 100); do # bounded: 10 s
    grep -q '^held ' "$WORK/hold.out" && break
    kill -0 "$HOLD_PID" 2>/dev/null || fail "tcp_hold.py exited before holding its connections"
    sleep 0.1
done
read -r _ echo_port discard_port <"$WORK/hold.out" || fail "tcp_hold.py did not report its ports"
ts_ok "kernel ports $echo_port (to TCP 7) and $discard_port (to TCP 9) are connected"
echo_row="^tcp +ESTABLISHED +0/262144 +0/262144 +198\.18\.0\.2:7 +198\.18\.0\.1:$echo_port +echo +0 +1500$"
discard_row="^tcp +ESTABLISHED +0/262144 +0/262144 +198\.18\.0\.2:9 +198\.18\.0\.1:$discard_port +discard +0 +1500$"
settled() { # the echo acknowledged by the kernel, the discarded bytes read by the service
    local table
    table=$(in_ns "$BIN" ss) && grep -Eq "$echo_row" <<<"$table" && grep -Eq "$discard_row" <<<"$table"
}
for _ in $(seq 50); do settled && break; sleep 0.1; done # bounded: 5 s

step "tunstack ss: every socket of the stack, like ss -tuna (TCP 7 and UDP 7 side by side: one number, two port namespaces)" \
    "$BIN ss"
check "TCP 7 listens (its Recv-Q: connections waiting for accept / backlog)" "^tcp +LISTEN +0/128 .* 198\.18\.0\.2:7 +0\.0\.0\.0:\* +echo "
check "the connection to TCP 7 is ESTABLISHED: its 15 bytes were read, echoed and acknowledged (Recv-Q, Send-Q 0)" "$echo_row"
check "the connection to TCP 9 too: discard read its 3000 bytes" "$discard_row"
check "UDP 7 is a separate socket in UDP's port namespace, with its own queue (bytes, and datagrams: dg)" \
    "^udp +UNCONN +0/1048576 \(0/$UDP_QUEUE dg\) +- +198\.18\.0\.2:7 +0\.0\.0\.0:\* +echo +0 +-$"
exec 7>&- # the helper closes its connections and exits
wait "$HOLD_PID" || fail "tcp_hold.py failed"
HOLD_PID=""

# The UDP block of `tunstack stats`, and one counter of it.
udp_stats="$BIN stats | sed -n '/^udp:/,/^tcp:/p' | sed '\$d'"
stat_value() { awk -v n="$1" '$1 == n { print $2 }' <<<"$OUT"; }
step "tunstack stats: the UDP counters before the flood" "$udp_stats"
full0=$(stat_value udp_rx_queue_full)
[ -n "$full0" ] || fail "no udp_rx_queue_full in tunstack stats"

drop0=$(tun_stat tx_dropped)
read0=$(tun_stat tx_packets)
step "UDP flood: $FLOOD_COUNT datagrams of 512 bytes to discard, as fast as Python sends (queue: $UDP_QUEUE)" \
    "python3 tests/helpers/udp_flood.py $STACK_ADDR 9 --count $FLOOD_COUNT --size 512 --max-seconds 10"
check "all sent" "^sent=$FLOOD_COUNT "
for _ in $(seq 100); do # bounded: 10 s for the stack to read what the kernel queued
    handled=$(($(tun_stat tx_packets) - read0 + $(tun_stat tx_dropped) - drop0))
    [ "$handled" -ge "$FLOOD_COUNT" ] && break
    sleep 0.1
done
[ "$handled" -ge "$FLOOD_COUNT" ] || fail "the kernel still holds flood packets for the stack after 10 s ($handled/$FLOOD_COUNT)"
kernel_dropped=$(($(tun_stat tx_dropped) - drop0))
ts_info "    the kernel dropped $kernel_dropped of them itself (tun0 tx_dropped: the stack did not read fast enough);"
ts_info "    the other $((FLOOD_COUNT - kernel_dropped)) reached the stack, which counts each as received or dropped by udp/9."
# An echo round trip: the stack has processed everything it read before it.
in_ns timeout 10 python3 tests/helpers/udp_echo.py "$STACK_ADDR" 7 16 >/dev/null || fail "echo after the flood failed"

step "tunstack stats: the UDP counters after the flood — udp_rx_queue_full has risen" "$udp_stats"
full1=$(stat_value udp_rx_queue_full)
if [ -z "$full1" ] || [ "$full1" -le "$full0" ]; then fail "udp_rx_queue_full did not rise ($full0 -> ${full1:-missing})"; fi
ts_ok "udp_rx_queue_full: $full0 -> $full1 datagrams refused because udp/9's queue ($UDP_QUEUE datagrams) was full"
step "tunstack ss: the drops are udp/9's own (its Drops column)" \
    "$BIN ss | grep -E '^Netid|^udp'"
check "udp/9 counts every one of them" "^udp +UNCONN .* 198\.18\.0\.2:9 +0\.0\.0\.0:\* +discard +$full1 +-$"

step "the dashboard's data: what the page at http://$STACK_ADDR/ draws, as JSON over the stack's own TCP" \
    "curl -sS --max-time 10 http://$STACK_ADDR/api/state.json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(len(s[\"sockets\"]), \"sockets,\", len(s[\"connections\"]), \"connections\")'"
check "the state answers" "^[0-9]+ sockets, [0-9]+ connections$"

# ---------------------------------------------------------------------------
retrans_rule="INPUT -i tun0 -p tcp --sport 80 -m statistic --mode nth --every 40 --packet 0 -j DROP"
step "tunstack stats: the retransmission counters before" "$BIN stats | grep -E 'tcp_(tx|fast)_retransmits '"
retrans0=$(stat_value tcp_tx_retransmits)
step "retransmission: the kernel drops every 40th segment the stack sends it (iptables), during a 2 MB download" \
    "iptables -I $retrans_rule && curl -sS --max-time 20 http://$STACK_ADDR/bytes/2000000 | wc -c; iptables -D $retrans_rule"
check "the download arrived whole all the same" "^2000000$"
step "tunstack stats: the stack resent what was lost (most by fast retransmit: SACK and duplicate ACKs)" \
    "$BIN stats | grep -E 'tcp_(tx|fast)_retransmits '"
retrans1=$(stat_value tcp_tx_retransmits)
[ "$retrans1" -gt "$retrans0" ] || fail "tcp_tx_retransmits did not rise ($retrans0 -> $retrans1)"
ts_ok "tcp_tx_retransmits: $retrans0 -> $retrans1"

ts_section "backlog overflow: 160 connections to tcp/8080, where nobody calls accept"
printf '[%s]$ python3 tests/helpers/tcp_syn_flood.py %s 8080 160 &\n' "$NS" "$STACK_ADDR"
mkfifo "$WORK/flood.in"
in_ns timeout 60 python3 tests/helpers/tcp_syn_flood.py "$STACK_ADDR" 8080 160 <"$WORK/flood.in" >"$WORK/flood.out" &
HOLD_PID=$!
exec 7>"$WORK/flood.in" # the helper holds its sockets until this closes
full=0
for _ in $(seq 100); do # bounded: 10 s for the accept queue to fill and a SYN to be refused
    if in_ns "$BIN" ss | grep -Eq 'LISTEN +128/128 .*:8080 ' &&
        [ "$(in_ns "$BIN" stats | awk '$1 == "tcp_listen_overflow" { print $2 }')" -gt 0 ]; then
        full=1
        break
    fi
    sleep 0.1
done
[ "$full" = 1 ] || fail "tcp/8080's accept queue did not fill within 10 s"
step "tunstack ss: the accept queue of tcp/8080 is full (128/128); later SYNs were dropped and counted" \
    "$BIN ss | grep -E '^Netid|LISTEN .*:8080 '; $BIN stats | grep tcp_listen_overflow"
check "128 connections wait for accept" "LISTEN +128/128 .*:8080 "
check "tcp_listen_overflow counts the SYNs refused (the kernel retries them with back-off)" "tcp_listen_overflow +[1-9]"
exec 7>&- # the helper closes its sockets and exits
wait "$HOLD_PID" || fail "tcp_syn_flood.py failed"
HOLD_PID=""

# ---------------------------------------------------------------------------
ts_section "stop the stack"
printf '$ kill -TERM %s\n' "$STACK_PID"
kill -TERM "$STACK_PID"
for _ in $(seq 100); do # bounded: 10 s
    kill -0 "$STACK_PID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$STACK_PID" 2>/dev/null && fail "tunstack did not exit within 10 s of SIGTERM"
rc=0
wait "$STACK_PID" || rc=$?
STACK_PID=""
[ "$rc" -eq 0 ] || fail "tunstack exited with status $rc"
[ ! -e "$CONTROL" ] || fail "tunstack left its control socket $CONTROL behind"
sed -n '/^counters:$/,$p' "$STACK_OUT" | sed 's/^/    /'

counter() { awk -v n="$1" '$1 == n && NF == 2 { print $2; found = 1 } END { if (!found) print "missing" }' "$STACK_OUT"; }
socket_field() { # socket_field udp/9 received
    sed -n "s|^  $1 [a-z]* .*$2=\([0-9]*\).*|\1|p" "$STACK_OUT"
}
recv9=$(socket_field udp/9 received)
drop9=$(socket_field udp/9 dropped)
if [ -z "$recv9" ] || [ -z "$drop9" ]; then fail "no 'udp/9 discard received=N dropped=N' line"; fi
expected=$((FLOOD_COUNT + 1 - kernel_dropped))
[ $((recv9 + drop9)) -eq "$expected" ] ||
    fail "udp/9 received ($recv9) + dropped ($drop9) != datagrams that reached it ($expected)"
ts_ok "udp/9: received $recv9 + dropped $drop9 = $expected = $FLOOD_COUNT flood + 1 ncat - $kernel_dropped dropped by the kernel"
[ "$(counter udp_rx_queue_full)" = "$drop9" ] || fail "udp_rx_queue_full ($(counter udp_rx_queue_full)) != udp/9 dropped ($drop9)"
ts_ok "udp_rx_queue_full = $drop9: every datagram refused by a full queue is counted"
[ "$(counter icmp_tx_echo_reply)" = 4 ] || fail "icmp_tx_echo_reply is $(counter icmp_tx_echo_reply), expected 4"
[ "$(counter icmp_tx_dest_unreachable)" = 1 ] || fail "icmp_tx_dest_unreachable is $(counter icmp_tx_dest_unreachable), expected 1"
ts_ok "4 echo replies and 1 port unreachable sent"

step "The first TCP connection (the echo step) as recorded: three-way handshake first, FIN exchange last" \
    "tshark -r $PCAP -Y 'tcp.stream eq 0' 2>/dev/null"
first=$(head -n 3 <<<"$OUT")
grep -q "\[SYN\]" <<<"$(sed -n 1p <<<"$first")" || fail "the capture does not start the connection with a SYN"
grep -q "\[SYN, ACK\]" <<<"$(sed -n 2p <<<"$first")" || fail "no SYN,ACK second"
ts_ok "SYN, SYN/ACK, ACK open the connection"
check "FINs close it" "FIN, (PSH, )?ACK"
# Packet by packet (-o tcp.desegment_tcp_streams:FALSE): with HTTP reassembly on,
# tshark calls a retransmission that arrives after the body it belongs to was
# completed a "reassembly error" — the lossy download of step 23 makes one when
# the last segment lost is near the end of the body, though its bytes are the
# same as the original's.
step "tshark finds no malformed packet and no bad checksum in the whole capture" \
    "tshark -r $PCAP -o tcp.desegment_tcp_streams:FALSE -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE -Y '_ws.malformed || ip.checksum.status == 2 || tcp.checksum.status == 2 || udp.checksum.status == 2' 2>/dev/null | wc -l"
[ "$OUT" = 0 ] || fail "tshark flagged $OUT packets"
ts_ok "every packet decodes cleanly ($(in_ns tshark -r "$PCAP" 2>/dev/null | wc -l) packets)"

ts_section "demo complete: every step worked"
