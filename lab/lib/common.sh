# shellcheck shell=bash
# Shared helpers for the lab scripts, test.sh and demo.sh.
#
# Source it; it only defines functions and a few variables (no side effects):
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#
# Functions:
#   lab_log / lab_warn / lab_die MSG...   messages on stderr (lab_die exits 1)
#   lab_require_root                      exit 1 unless running as root
#   lab_require_dotnet                    exit 1 unless a .NET SDK >= 10 is on PATH
#   lab_install_packages                  apt-get install only the missing lab packages
#   lab_wait_for TIMEOUT CMD...           poll CMD (quietly) until it succeeds; 1 on timeout
#   lab_build                             dotnet build -c Release of the solution
#   lab_setup_traps CLEANUP_CMD           run CLEANUP_CMD once on exit, Ctrl-C or SIGTERM
#
# Variables: LAB_ROOT (repository root), LB_DLL (exported, path of the built lb.dll).

LAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LB_DLL="${LB_DLL:-$LAB_ROOT/src/LoadBalancer.Cli/bin/Release/net10.0/lb.dll}"
export LB_DLL

# Debian packages the lab needs. Checked with dpkg -s, installed only when missing.
# python3-matplotlib draws results.svg (lab/lib/report.py); man-db and systemd (systemd-analyze) check the
# package that packaging/build-deb.sh makes (tests/LoadBalancer.Lab.Tests/Packaging); prometheus (promtool and the
# server) and chromium (headless) check the HTTP listener (tests/LoadBalancer.Lab.Tests/Http; socat carries
# its DevTools socket out of the namespace).
LAB_PACKAGES=(iproute2 nftables nginx curl tcpdump tshark python3-scapy python3-matplotlib ethtool iputils-arping wrk procps
              psmisc keepalived bird2 hping3 man-db systemd prometheus chromium socat)

# Always this interpreter: `python3` on PATH may be a pyenv build without scapy or matplotlib.
# shellcheck disable=SC2034
LAB_PYTHON=/usr/bin/python3

lab_log() { printf '[lab] %s\n' "$*" >&2; }
lab_warn() { printf '[lab] warning: %s\n' "$*" >&2; }
lab_die() { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

lab_require_root() {
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "This needs root (it creates network namespaces): run it as root." >&2
        exit 1
    fi
}

lab_require_dotnet() {
    local major=0 line m
    if command -v dotnet >/dev/null 2>&1; then
        # `dotnet --list-sdks` prints one "10.0.401 [/usr/share/dotnet/sdk]" line per SDK.
        while read -r line; do
            m="${line%%.*}"
            [[ "$m" =~ ^[0-9]+$ ]] && (( m > major )) && major=$m
        done < <(dotnet --list-sdks 2>/dev/null)
    fi
    if (( major < 10 )); then
        echo "The .NET 10 SDK is required: https://dotnet.microsoft.com/download" >&2
        exit 1
    fi
}

_lab_pkg_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

lab_install_packages() {
    local missing=() p rc=0 made_policy=0
    for p in "${LAB_PACKAGES[@]}"; do
        _lab_pkg_installed "$p" || missing+=("$p")
    done
    (( ${#missing[@]} == 0 )) && return 0
    lab_log "installing missing packages: ${missing[*]}"
    # Keep package scripts from starting services (nginx) in the root namespace.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q || rc=$?
    if (( rc == 0 )); then
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q "${missing[@]}" </dev/null || rc=$?
    fi
    (( made_policy )) && rm -f /usr/sbin/policy-rc.d
    if (( rc != 0 )); then
        echo "Installing ${missing[*]} failed (apt-get exit $rc)." >&2
        exit 1
    fi
}

# lab_wait_for TIMEOUT_SECONDS CMD [ARGS...]
# Runs CMD (output discarded) every 0.2 s until it succeeds (return 0) or the
# timeout passes (return 1). Bounded both in time and in number of attempts.
lab_wait_for() {
    local timeout="$1"; shift
    local deadline max_tries tries=0
    deadline=$(( $(date +%s%N) + ${timeout%.*} * 1000000000 ))
    max_tries=$(( ${timeout%.*} * 5 + 1 ))
    while (( tries < max_tries )); do
        tries=$(( tries + 1 ))
        # In a subshell: a trap firing meanwhile must not inherit the /dev/null redirection.
        if ( "$@" ) >/dev/null 2>&1; then
            return 0
        fi
        (( $(date +%s%N) >= deadline )) && break
        sleep 0.2
    done
    return 1
}

lab_build() {
    dotnet build -c Release "$LAB_ROOT/LoadBalancer.sln" -nologo -v q
}

# lab_setup_traps CLEANUP_CMD
# Runs CLEANUP_CMD exactly once when the script exits for any reason (normal
# end, error under set -e, Ctrl-C, SIGTERM, terminal hang-up), keeping the
# script's exit code (130 after SIGINT, 143 after SIGTERM, 129 after SIGHUP).
# Signals are ignored while it runs so a second Ctrl-C or the terminal
# closing (SIGHUP, or SIGPIPE from a dead `| tee`) cannot cut the teardown short.
lab_setup_traps() {
    _LAB_CLEANUP_CMD="$1"
    trap '_lab_on_exit' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}

_lab_on_exit() {
    local rc=$?
    trap '' INT TERM HUP PIPE
    trap - EXIT
    if [[ -n "${_LAB_CLEANUP_CMD:-}" ]]; then
        eval "$_LAB_CLEANUP_CMD" || true
    fi
    exit "$rc"
}
