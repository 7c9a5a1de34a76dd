#!/bin/sh
# Install what netkit needs on Debian, or say the one line that would.
#   scripts/deps.sh build   cmake, a C compiler, pkg-config, inih, OpenSSL 3
#                           (libssl-dev: TLS), and what
#                           configuring the test tree needs (cmocka, python3)
#   scripts/deps.sh test    the above, plus socat and ncat (peers of the
#                           connect tests), iproute2 (ss, to check socket
#                           options from outside), valgrind and clang
#                           and clang-format (`make check`), systemd
#                           (systemd-socket-activate, for the activation
#                           tests), man-db and groff-base (the manual is
#                           rendered with man -l), clang's runtime
#                           libraries (libFuzzer, `make fuzz`), curl and
#                           prometheus (promtool: the metrics listener's
#                           tests), haproxy (a real PROXY protocol sender),
#                           openssl (test certificates, s_client and
#                           s_server as TLS peers), tmux (drives the
#                           interactive prompt tests)
set -eu

build_pkgs="cmake gcc make pkg-config libinih-dev libssl-dev libcmocka-dev python3"
test_pkgs="$build_pkgs socat ncat iproute2 valgrind clang clang-format systemd man-db groff-base libclang-rt-14-dev curl prometheus haproxy openssl tmux"

case "${1:-build}" in
build) want=$build_pkgs ;;
test) want=$test_pkgs ;;
*) echo "usage: scripts/deps.sh build|test" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    echo "netkit: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "netkit: missing packages; run: sudo apt-get install -y$missing" >&2
    exit 1
fi
