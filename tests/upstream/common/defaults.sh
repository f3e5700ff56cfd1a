#!/bin/bash
# A suite-wide defaults file in the style of upstream packetdrill's
# gtests/net/common/defaults.sh, which every one of its Linux TCP scripts runs
# first (`../common/defaults.sh`). Our own file, with the kinds of lines that one
# has, for tests/script_upstream.rs: `tunstack script` reads it line by line and
# never runs it (src/script/source.rs).

# Forget cached per-destination metrics (the stack keeps none).
ip tcp_metrics flush all > /dev/null 2>&1

# Buffers: a 15 MiB receive maximum is what makes the SYN,ACK say wscale 8.
sysctl -q net.ipv4.tcp_rmem="4096 540000 $((15*1024*1024))"
sysctl -q net.ipv4.tcp_wmem="4096 $((256*1024)) 4194304"

# Options and retries.
sysctl -q net.ipv4.tcp_timestamps=1
sysctl -q net.ipv4.tcp_sack=1
sysctl -q net.ipv4.tcp_dsack=1
sysctl -q net.ipv4.tcp_syn_retries=5
sysctl -q net.ipv4.tcp_synack_retries=5

# Loss recovery: RACK with tail loss probes, dupthresh 3, no FACK; F-RTO on.
sysctl -q net.ipv4.tcp_early_retrans=4 net.ipv4.tcp_recovery=1
sysctl -q net.ipv4.tcp_reordering=3
sysctl -q net.ipv4.tcp_fack=0
sysctl -q net.ipv4.tcp_frto=2

# Congestion control, no slow start after idle, no ECN.
sysctl -q net.ipv4.tcp_congestion_control=cubic
sysctl -q net.ipv4.tcp_slow_start_after_idle=0
sysctl -q net.ipv4.tcp_ecn=0

# Sending: no TSO deferral limits, pacing ratios, no unsent-data limit.
sysctl -q net.ipv4.tcp_tso_win_divisor=3
sysctl -q net.ipv4.tcp_pacing_ss_ratio=200
sysctl -q net.ipv4.tcp_notsent_lowat=4294967295 > /dev/null 2>&1

# Features some scripts use: Fast Open on both sides, SYN cookies, MPTCP.
sysctl -q net.ipv4.tcp_fastopen=0x70403
sysctl -q net.ipv4.tcp_syncookies=1
sysctl -q net.mptcp.enabled=1

# A plain FIFO on the TUN, so that no qdisc paces the flows.
tc qdisc add dev tun0 root pfifo
