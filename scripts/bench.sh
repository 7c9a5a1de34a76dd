#!/bin/sh
# Measure build/netkit next to ref_echo with the harness in ../shared/bench,
# in the same run, and print the summary tables (ratios to ref_echo).
#
#   make bench                              all workloads, 3 runs each
#   WORKLOADS="W2 W3" RUNS=5 make bench     a subset
#
# The harness is used where it lives (it is not part of this repository); it
# is copied to a scratch directory first because it builds its tools in
# place.  netkit runs with -q so that logging is not what is measured
# (ref_echo logs nothing).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
src=${BENCH_DIR:-$top/../shared/bench}
if [ ! -f "$src/run-netkit.sh" ]; then
    echo "netkit: bench harness not found at $src (set BENCH_DIR)" >&2
    exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/netkit-bench.XXXXXX")
cp -R "$src/." "$work/"
chmod -R u+w "$work"
export NETKIT="$top/build/netkit"
export NETKIT_RAW_ARGS="-q"
export NETKIT_PURE_ARGS="-q -O prefix= -O exit_word="
export NETKIT_FRAMED_ARGS="-q"
export NETKIT_UDP_ARGS="-q -u --udp-rate 0" # one client address
export OUT="${OUT:-$work/out}"
cd "$work"
bash ./run-netkit.sh
echo "results: $OUT" >&2
