#!/bin/bash
# The TLS figures of docs/bench.md, by hand (not a test): netkit serve
# --tls-cert with the raw plugin as a pure echo, against nginx's stream
# module terminating TLS in front of ref_echo (../shared/bench), both with
# one worker, the same P-256 certificate and the same load (tlsload.c):
# full TLS 1.3 handshakes per second and 64 KiB ping-pong throughput, with
# each server's CPU time per handshake and per byte from /proc.
#   scripts/tlsbench/run.sh [ROUNDS] [SECONDS]   (needs nginx,
#   libnginx-mod-stream, and a release build in build-bench/)
set -eu
ROUNDS=${1:-2} SECS=${2:-4}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
NK=$SRC/build-bench/netkit BENCH=${BENCH:-$SRC/../shared/bench}
[ -f "$BENCH/ref_echo.c" ] || { echo "BENCH=DIR: where ref_echo.c is" >&2; exit 2; }
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$T"' EXIT
cc -O2 -o "$T/tlsload" "$SRC/scripts/tlsbench/tlsload.c" -lssl -lcrypto -lpthread
cc -O2 -o "$T/ref_echo" "$BENCH/ref_echo.c"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/k.pem" -out "$T/c.pem" -days 2 -subj /CN=localhost 2>/dev/null
chmod 600 "$T/k.pem"
cat > "$T/ngx.conf" <<NGX
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1; daemon off; pid $T/ngx.pid; error_log $T/ngx.err;
events { worker_connections 4096; }
stream { server { listen 127.0.0.1:19002 ssl; ssl_certificate $T/c.pem;
  ssl_certificate_key $T/k.pem; proxy_pass 127.0.0.1:19001; } }
NGX
"$T/ref_echo" 19001 >/dev/null 2>&1 & REF=$!
nginx -c "$T/ngx.conf" & NGM=$!
"$NK" serve -q -p raw -O prefix= -O exit_word= -H 127.0.0.1 -P 19003 \
    --tls-cert "$T/c.pem" --tls-key "$T/k.pem" & NKP=$!
sleep 1
NGW=$(pgrep -P $NGM)
ticks() { local t=0 a b p; for p in "$@"; do read -r a b < <(cut -d' ' -f14,15 /proc/$p/stat); t=$((t + a + b)); done; echo $t; }
per() { # load ms value: CPU per handshake (us) or per byte (ns)
    if [ "$1" = hs ]; then echo "$2 * 1000 / ($3 * $SECS)" | bc -l
    else echo "$2 / ($3 * $SECS)" | bc -l; fi
}
unit() { [ "$1" = hs ] && echo us/handshake || echo ns/byte; }
one() { # label port load n pids... [-- extra pids, CPU shown apart]
    local label=$1 port=$2 load=$3 n=$4; shift 4
    local main=() extra=() c0 e0 out c1 e1 ms ems v
    while [ $# -gt 0 ] && [ "$1" != -- ]; do main+=("$1"); shift; done
    [ $# -gt 0 ] && shift && extra=("$@")
    c0=$(ticks "${main[@]}"); e0=$(ticks "${extra[@]}")
    out=$("$T/tlsload" "$load" "$port" "$n" "$SECS")
    c1=$(ticks "${main[@]}"); e1=$(ticks "${extra[@]}")
    ms=$(( (c1 - c0) * 1000 / $(getconf CLK_TCK) ))
    ems=$(( (e1 - e0) * 1000 / $(getconf CLK_TCK) )); v=${out%% *}
    printf '%-7s %-5s %18s  CPU %5d ms  %7.2f %s' "$label" "$load" "$out" \
        $ms "$(per "$load" $ms "$v")" "$(unit "$load")"
    [ ${#extra[@]} -gt 0 ] && printf '  (+ ref_echo %.2f)' "$(per "$load" $ems "$v")"
    echo
}
for r in $(seq "$ROUNDS"); do
    for load in "hs 4" "bulk 8"; do
        set -- $load
        one nginx 19002 "$1" "$2" $NGM $NGW -- $REF
        one netkit 19003 "$1" "$2" $NKP
    done
done
