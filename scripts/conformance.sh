#!/usr/bin/env bash
# Run a packetdrill suite through `tunstack script` and summarise the verdicts.
#
#   scripts/conformance.sh SUITE_DIR [--profile P] [--json FILE] [--name GLOB] [--bin PATH]
#                          [--expect FILE | --write-expect FILE] [-- TUNSTACK_SCRIPT_OPTIONS...]
#
# Runs every .pkt under SUITE_DIR (sorted; only those whose file name matches
# GLOB with --name, e.g. '*ipv4*'), one `tunstack script` process each, in
# virtual time, and prints:
#   - a table per directory: pass / fail / invalid / unsupported / error,
#   - the reasons grouped (numbers folded to N), most frequent first,
#   - totals; and writes everything as JSON (default: conformance.json in the
#     current directory), one record per script with its verdict and reason.
# Words after `--` go to every `tunstack script` run: packetdrill options such as
# `-D FreeBSD` (for the scripts' #ifdef blocks) or `--tolerance_usecs=10000`.
#
# Expectations: --write-expect FILE records every script that does not pass,
# with its verdict and a reason (edit the reason to say why: runner gap,
# profile difference, unsupported feature). --expect FILE compares the run with
# it: a script that passes but is listed, or that does worse than listed (or
# does not pass and is not listed), is reported; the latter are regressions and
# make the exit status 1.
#
# Verdicts follow `tunstack script`'s exit codes: 0 pass, 1 fail (a mismatch),
# 2 invalid (unreadable or not valid packetdrill), 3 unsupported; anything else
# (a crash, or no verdict within TIMEOUT seconds, default 60) is "error".
# The binary is target/debug/tunstack unless --bin or TUNSTACK_BIN says
# otherwise; it is built first when missing. Exits 0 when every script ran to
# a verdict (whatever it was) and, with --expect, none did worse than expected;
# 1 otherwise; 2 on bad usage.
set -euo pipefail

usage() {
    sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
suite=""
profile="linux"
json="conformance.json"
name_glob="*.pkt"
bin="${TUNSTACK_BIN:-$repo/target/debug/tunstack}"
timeout_s="${TIMEOUT:-60}"
extra=()
expect=""
write_expect=""

while [ $# -gt 0 ]; do
    case "$1" in
        --profile) [ $# -ge 2 ] || usage; profile="$2"; shift 2 ;;
        --profile=*) profile="${1#*=}"; shift ;;
        --json) [ $# -ge 2 ] || usage; json="$2"; shift 2 ;;
        --json=*) json="${1#*=}"; shift ;;
        --name) [ $# -ge 2 ] || usage; name_glob="$2"; shift 2 ;;
        --name=*) name_glob="${1#*=}"; shift ;;
        --expect) [ $# -ge 2 ] || usage; expect="$2"; shift 2 ;;
        --expect=*) expect="${1#*=}"; shift ;;
        --write-expect) [ $# -ge 2 ] || usage; write_expect="$2"; shift 2 ;;
        --write-expect=*) write_expect="${1#*=}"; shift ;;
        --bin) [ $# -ge 2 ] || usage; bin="$2"; shift 2 ;;
        --bin=*) bin="${1#*=}"; shift ;;
        --) shift; extra=("$@"); break ;;
        -h | --help) usage ;;
        -*) echo "conformance.sh: unknown option $1" >&2; usage ;;
        *) [ -z "$suite" ] || usage; suite="$1"; shift ;;
    esac
done
[ -n "$suite" ] || usage
[ -d "$suite" ] || { echo "conformance.sh: $suite is not a directory" >&2; exit 2; }
case "$name_glob" in *.pkt) ;; *) name_glob="$name_glob.pkt" ;; esac

if [ ! -x "$bin" ]; then
    echo "conformance.sh: building $bin" >&2
    (cd "$repo" && cargo build --quiet --bin tunstack) || exit 2
fi

results="$(mktemp)"
errout="$(mktemp)"
trap 'rm -f "$results" "$errout"' EXIT

suite="${suite%/}"
count=0
while IFS= read -r -d '' file; do
    count=$((count + 1))
    code=0
    timeout "$timeout_s" "$bin" script --profile "$profile" "$file" ${extra[@]+"${extra[@]}"} >/dev/null 2>"$errout" || code=$?
    # The reason: the first line of the message that is not a note, without its
    # `file:line:` prefix; the line number separately.
    first="$(grep -v '^note: ' "$errout" | head -n 1 || true)"
    rest="${first#"$file"}"
    line=""
    if [[ "$rest" =~ ^:([0-9]+):\ (.*)$ ]]; then
        line="${BASH_REMATCH[1]}"
        reason="${BASH_REMATCH[2]}"
    elif [[ "$rest" =~ ^:\ (.*)$ ]]; then
        reason="${BASH_REMATCH[1]}"
    else
        reason="$first"
    fi
    [ "$code" -ne 124 ] || reason="no verdict within ${timeout_s} s"
    notes="$(grep -c '^note: ' "$errout" || true)"
    printf '%s\t%s\t%s\t%s\t%s\n' "${file#"$suite"/}" "$code" "$line" "$notes" "${reason//$'\t'/ }" >>"$results"
done < <(find "$suite" -type f -name "$name_glob" -print0 | sort -z)

if [ "$count" -eq 0 ]; then
    echo "conformance.sh: no files matching $name_glob under $suite" >&2
    exit 2
fi

python3 "$repo/scripts/lib/conformance_report.py" "$results" "$suite" "$profile" "$json" \
    ${expect:+--expect "$expect"} ${write_expect:+--write-expect "$write_expect"}
