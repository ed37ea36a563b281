# shellcheck shell=bash
# DR lab topology in network namespaces. Source it; it only defines functions.
#
#   client ns  <P>-c   <P>c0 10.99.2.2/24, default via 10.99.2.1
#        |
#   router ns  <P>-r   <P>r0 10.99.2.1/24   <P>r1 10.99.1.1/24 (LAN), ip_forward=1,
#        |             rp_filter=2, route 10.99.0.100/32 dev <P>r1 (VIP found by ARP)
#   switch ns  <P>-s   bridge <P>br (no STP, forward delay 0, bridge-nf off),
#        |             ports <P>sr (router), <P>sb (balancer), <P>s1..<P>sN (servers)
#        +-- balancer ns  <P>-b   <P>b0 10.99.1.10/24, default via 10.99.1.1, ip_forward=0
#        +-- server ns    <P>-wI  <P>wI 10.99.1.(10+I)/24, default via 10.99.1.1,
#                                 VIP 10.99.0.100/32 on lo, arp_ignore=1, arp_announce=2,
#                                 nginx :80 ("rsI\n" on /, 10 MB /big), upload server :8080
#
# Usage:
#   source lab/lib/topology.sh
#   P=$(lab_new_prefix)
#   lab_setup_traps "lab_down $P"      # teardown on exit, error, Ctrl-C, SIGTERM
#   lab_up "$P" 2                      # builds it and waits until every server answers
#   lab_write_dr_config "$P" "$LAB_DIR/lb.yaml"
#   ...
#   lab_down "$P"                      # idempotent; also fine on a half-built lab
#
# Functions: lab_new_prefix, lab_set_env, lab_up, lab_down, lab_write_dr_config,
#            lab_namespaces (plus everything from common.sh).
#
# Exported by lab_up / lab_set_env (lists are space-separated, in server order):
#   LAB_PREFIX LAB_DIR LAB_N LAB_VIP LAB_HTTP_PORT LAB_UPLOAD_PORT
#   LAB_CLIENT_NS LAB_CLIENT_IF LAB_CLIENT_ADDR
#   LAB_ROUTER_NS LAB_ROUTER_CLIENT_IF LAB_ROUTER_CLIENT_ADDR LAB_ROUTER_LAN_IF LAB_ROUTER_LAN_ADDR
#   LAB_SWITCH_NS LAB_BRIDGE
#   LAB_BALANCER_NS LAB_BALANCER_IF LAB_BALANCER_ADDR
#   LAB_SERVER_NS LAB_SERVER_IFS LAB_SERVER_ADDRS LAB_SERVER_NAMES
#   LAB_BIG_FILE (10 MB file served as /big) LAB_BIG_SHA256 (its hex sha256, also in $LAB_DIR/big.sha256)
# lab_up also writes them as KEY="VALUE" lines to $LAB_DIR/lab.env.
#
# Real-server VIP setup runs `dotnet $LB_DLL realserver setup --vip 10.99.0.100` in each
# server namespace; with LB_REALSERVER_FALLBACK=1 the same is done here with sysctl + ip.

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

_LAB_TOPOLOGY_SH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

# Prefixes: a letter then up to 9 letters/digits, so that "<P>-w99" and "<P>s99"
# stay within the 15-character interface name limit.
_lab_check_prefix() {
    if [[ ! "${1:-}" =~ ^[a-z][a-z0-9]{0,9}$ ]]; then
        lab_warn "invalid lab prefix '${1:-}' (want a lowercase letter and up to 9 letters/digits)"
        return 1
    fi
}

# Namespaces that belong to lab P (exact "<P>-" prefix).
lab_namespaces() {
    local P="$1"
    _lab_check_prefix "$P" || return 1
    ip netns list 2>/dev/null | awk -v p="$P-" 'index($1, p) == 1 { print $1 }'
}

# lab_new_prefix: "lb" + 4 random hex digits, not used by any namespace or /tmp dir.
lab_new_prefix() {
    local i P
    for (( i = 0; i < 20; i++ )); do
        P="lb$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')"
        if [[ -z "$(lab_namespaces "$P")" && ! -e "/tmp/$P" ]]; then
            echo "$P"
            return 0
        fi
    done
    lab_warn "could not find a free lab prefix"
    return 1
}

# lab_set_env PREFIX [N]: sets and exports the LAB_* variables for lab PREFIX.
lab_set_env() {
    local P="$1" N="${2:-2}" i
    _lab_check_prefix "$P" || return 1
    export LAB_PREFIX="$P"
    export LAB_DIR="/tmp/$P"
    export LAB_N="$N"
    export LAB_VIP=10.99.0.100
    export LAB_HTTP_PORT=80
    export LAB_UPLOAD_PORT=8080
    export LAB_CLIENT_NS="$P-c" LAB_CLIENT_IF="${P}c0" LAB_CLIENT_ADDR=10.99.2.2
    export LAB_ROUTER_NS="$P-r" LAB_ROUTER_CLIENT_IF="${P}r0" LAB_ROUTER_CLIENT_ADDR=10.99.2.1
    export LAB_ROUTER_LAN_IF="${P}r1" LAB_ROUTER_LAN_ADDR=10.99.1.1
    export LAB_SWITCH_NS="$P-s" LAB_BRIDGE="${P}br"
    export LAB_BALANCER_NS="$P-b" LAB_BALANCER_IF="${P}b0" LAB_BALANCER_ADDR=10.99.1.10
    local nsl=() ifs=() addrs=() names=()
    for (( i = 1; i <= N; i++ )); do
        nsl+=("$P-w$i"); ifs+=("${P}w$i"); addrs+=("10.99.1.$(( 10 + i ))"); names+=("rs$i")
    done
    export LAB_SERVER_NS="${nsl[*]}" LAB_SERVER_IFS="${ifs[*]}"
    export LAB_SERVER_ADDRS="${addrs[*]}" LAB_SERVER_NAMES="${names[*]}"
    export LAB_BIG_FILE="$LAB_DIR/www/big"
    LAB_BIG_SHA256=""
    [[ -r "$LAB_DIR/big.sha256" ]] && LAB_BIG_SHA256="$(< "$LAB_DIR/big.sha256")"
    export LAB_BIG_SHA256
}

_lab_sysctl() { # NS key=value...
    local ns="$1"; shift
    ip netns exec "$ns" sysctl -qw "$@" >/dev/null
}

# Same effect as `lb realserver setup --vip VIP`, for when that command is not there.
_lab_realserver_fallback() { # NS IF VIP
    local ns="$1" dev="$2" vip="$3"
    _lab_sysctl "$ns" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
        "net.ipv4.conf.$dev.arp_ignore=1" "net.ipv4.conf.$dev.arp_announce=2" \
        net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2
    ip -n "$ns" addr replace "$vip/32" dev lo
}

# Builds the namespaces, links and servers. Runs in its own bash (see lab_up)
# under set -e so that the first failing command stops it.
_lab_create() {
    set -euo pipefail
    trap 'echo "[lab] error: lab setup failed at line $LINENO: $BASH_COMMAND" >&2' ERR
    local P="$1" N="$2" i ns dev name addr
    lab_set_env "$P" "$N"
    read -r -a SNS <<< "$LAB_SERVER_NS"
    read -r -a SIFS <<< "$LAB_SERVER_IFS"
    read -r -a SADDRS <<< "$LAB_SERVER_ADDRS"
    read -r -a SNAMES <<< "$LAB_SERVER_NAMES"

    mkdir -m 0755 "$LAB_DIR"
    mkdir -m 0755 "$LAB_DIR/www"

    for ns in "$LAB_CLIENT_NS" "$LAB_ROUTER_NS" "$LAB_SWITCH_NS" "$LAB_BALANCER_NS" "${SNS[@]}"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done

    # Switch: a pure L2 box. No IPv6 chatter from its ports, no bridge netfilter.
    _lab_sysctl "$LAB_SWITCH_NS" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    local k
    for k in bridge-nf-call-iptables bridge-nf-call-ip6tables bridge-nf-call-arptables; do
        if ip netns exec "$LAB_SWITCH_NS" test -e "/proc/sys/net/bridge/$k"; then
            _lab_sysctl "$LAB_SWITCH_NS" "net.bridge.$k=0"
        fi
    done
    ip -n "$LAB_SWITCH_NS" link add "$LAB_BRIDGE" type bridge stp_state 0 forward_delay 0
    ip -n "$LAB_SWITCH_NS" link set "$LAB_BRIDGE" up

    # veths are created straight into their namespaces: nothing shows in the root namespace.
    ip link add "$LAB_CLIENT_IF" netns "$LAB_CLIENT_NS" type veth peer name "$LAB_ROUTER_CLIENT_IF" netns "$LAB_ROUTER_NS"
    ip link add "$LAB_ROUTER_LAN_IF" netns "$LAB_ROUTER_NS" type veth peer name "${P}sr" netns "$LAB_SWITCH_NS"
    ip link add "$LAB_BALANCER_IF" netns "$LAB_BALANCER_NS" type veth peer name "${P}sb" netns "$LAB_SWITCH_NS"
    for (( i = 0; i < N; i++ )); do
        ip link add "${SIFS[i]}" netns "${SNS[i]}" type veth peer name "${P}s$(( i + 1 ))" netns "$LAB_SWITCH_NS"
    done
    for dev in "${P}sr" "${P}sb" $(for (( i = 1; i <= N; i++ )); do echo "${P}s$i"; done); do
        ip -n "$LAB_SWITCH_NS" link set "$dev" master "$LAB_BRIDGE"
        ip -n "$LAB_SWITCH_NS" link set "$dev" up
    done

    # Client.
    ip -n "$LAB_CLIENT_NS" addr add "$LAB_CLIENT_ADDR/24" dev "$LAB_CLIENT_IF"
    ip -n "$LAB_CLIENT_NS" link set "$LAB_CLIENT_IF" up
    ip -n "$LAB_CLIENT_NS" route add default via "$LAB_ROUTER_CLIENT_ADDR"

    # Router. DR replies come from the VIP: loose rp_filter.
    _lab_sysctl "$LAB_ROUTER_NS" net.ipv4.ip_forward=1 \
        net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.default.rp_filter=2 \
        "net.ipv4.conf.$LAB_ROUTER_CLIENT_IF.rp_filter=2" "net.ipv4.conf.$LAB_ROUTER_LAN_IF.rp_filter=2"
    ip -n "$LAB_ROUTER_NS" addr add "$LAB_ROUTER_CLIENT_ADDR/24" dev "$LAB_ROUTER_CLIENT_IF"
    ip -n "$LAB_ROUTER_NS" addr add "$LAB_ROUTER_LAN_ADDR/24" dev "$LAB_ROUTER_LAN_IF"
    ip -n "$LAB_ROUTER_NS" link set "$LAB_ROUTER_CLIENT_IF" up
    ip -n "$LAB_ROUTER_NS" link set "$LAB_ROUTER_LAN_IF" up
    ip -n "$LAB_ROUTER_NS" route add "$LAB_VIP/32" dev "$LAB_ROUTER_LAN_IF"

    # Balancer.
    _lab_sysctl "$LAB_BALANCER_NS" net.ipv4.ip_forward=0
    ip -n "$LAB_BALANCER_NS" addr add "$LAB_BALANCER_ADDR/24" dev "$LAB_BALANCER_IF"
    ip -n "$LAB_BALANCER_NS" link set "$LAB_BALANCER_IF" up
    ip -n "$LAB_BALANCER_NS" route add default via "$LAB_ROUTER_LAN_ADDR"

    # The 10 MB /big file, the same bytes on every server.
    head -c 10485760 /dev/urandom > "$LAB_BIG_FILE"
    chmod 0644 "$LAB_BIG_FILE"
    sha256sum "$LAB_BIG_FILE" | cut -d' ' -f1 > "$LAB_DIR/big.sha256"

    local template="$LAB_ROOT/lab/servers/nginx.conf.template" dir
    for (( i = 0; i < N; i++ )); do
        ns="${SNS[i]}"; dev="${SIFS[i]}"; addr="${SADDRS[i]}"; name="${SNAMES[i]}"
        ip -n "$ns" addr add "$addr/24" dev "$dev"
        ip -n "$ns" link set "$dev" up
        ip -n "$ns" route add default via "$LAB_ROUTER_LAN_ADDR"

        if [[ "${LB_REALSERVER_FALLBACK:-}" == 1 ]]; then
            _lab_realserver_fallback "$ns" "$dev" "$LAB_VIP"
        else
            ip netns exec "$ns" dotnet "$LB_DLL" realserver setup --vip "$LAB_VIP" \
                </dev/null >> "$LAB_DIR/$name-realserver.log" 2>&1 || {
                echo "[lab] error: 'lb realserver setup' failed in $ns:" >&2
                cat "$LAB_DIR/$name-realserver.log" >&2
                return 1
            }
        fi
        if ! ip -n "$ns" -4 addr show dev lo | grep -q "inet $LAB_VIP/32"; then
            echo "[lab] error: VIP $LAB_VIP/32 is not on lo in $ns after real-server setup" >&2
            return 1
        fi
        if [[ "$(ip netns exec "$ns" sysctl -n net.ipv4.conf.all.arp_ignore)" != 1 ||
              "$(ip netns exec "$ns" sysctl -n net.ipv4.conf.all.arp_announce)" != 2 ]]; then
            echo "[lab] error: arp_ignore/arp_announce not set in $ns after real-server setup" >&2
            return 1
        fi

        # nginx, fully separate per server: own config, pid, temp paths and logs.
        dir="$LAB_DIR/$name"
        mkdir -p "$dir/tmp"
        echo "$name" > "$dir/running"
        sed -e "s|@NAME@|$name|g" -e "s|@DIR@|$dir|g" -e "s|@LAB_DIR@|$LAB_DIR|g" \
            -e "s|@WWW@|$LAB_DIR/www|g" "$template" > "$dir/nginx.conf"
        ip netns exec "$ns" nginx -c "$dir/nginx.conf" -p "$dir/" -e "$LAB_DIR/$name-error.log" \
            -g 'daemon on;' </dev/null >> "$LAB_DIR/$name-nginx.out" 2>&1 || {
            echo "[lab] error: nginx failed to start in $ns:" >&2
            cat "$LAB_DIR/$name-nginx.out" "$LAB_DIR/$name-error.log" >&2 2>/dev/null || true
            return 1
        }

        # Upload server, detached (not a job of any shell; lab_down finds it by namespace).
        ( ip netns exec "$ns" "$LAB_PYTHON" "$LAB_ROOT/lab/servers/upload_server.py" \
            --name "$name" --port "$LAB_UPLOAD_PORT" </dev/null >> "$LAB_DIR/$name-upload.log" 2>&1 & )
    done
}

# True when server I (1-based) answers its name on :80 and :8080 from the client.
_lab_server_ready() {
    local i="$1" addr name out
    addr="$(echo "$LAB_SERVER_ADDRS" | cut -d' ' -f"$i")"
    name="$(echo "$LAB_SERVER_NAMES" | cut -d' ' -f"$i")"
    out="$(ip netns exec "$LAB_CLIENT_NS" curl -s --noproxy '*' --max-time 1 "http://$addr:$LAB_HTTP_PORT/")" || return 1
    [[ "$out" == "$name" ]] || return 1
    out="$(ip netns exec "$LAB_CLIENT_NS" curl -s --noproxy '*' --max-time 1 "http://$addr:$LAB_UPLOAD_PORT/")" || return 1
    [[ "$out" == "$name" ]]
}

_lab_write_env_file() {
    local v
    {
        for v in LAB_PREFIX LAB_DIR LAB_N LAB_VIP LAB_HTTP_PORT LAB_UPLOAD_PORT \
                 LAB_CLIENT_NS LAB_CLIENT_IF LAB_CLIENT_ADDR \
                 LAB_ROUTER_NS LAB_ROUTER_CLIENT_IF LAB_ROUTER_CLIENT_ADDR LAB_ROUTER_LAN_IF LAB_ROUTER_LAN_ADDR \
                 LAB_SWITCH_NS LAB_BRIDGE LAB_BALANCER_NS LAB_BALANCER_IF LAB_BALANCER_ADDR \
                 LAB_SERVER_NS LAB_SERVER_IFS LAB_SERVER_ADDRS LAB_SERVER_NAMES \
                 LAB_BIG_FILE LAB_BIG_SHA256 LB_DLL; do
            printf '%s="%s"\n' "$v" "${!v}"
        done
    } > "$LAB_DIR/lab.env"
}

# lab_up PREFIX [N]: builds the lab with N real servers (default 2) and waits
# (bounded) until each server answers on its own address through the router.
# On failure it prints what it knows, tears the half-built lab down and returns 1.
lab_up() {
    local P="$1" N="${2:-2}" i
    _lab_check_prefix "$P" || return 1
    if [[ ! "$N" =~ ^[0-9]+$ ]] || (( N < 1 || N > 99 )); then
        lab_warn "lab_up: server count must be 1..99, got '$N'"
        return 1
    fi
    if [[ -n "$(lab_namespaces "$P")" || -e "/tmp/$P" ]]; then
        lab_warn "lab_up: lab $P already exists"
        return 1
    fi
    if [[ "${LB_REALSERVER_FALLBACK:-}" != 1 && ! -f "$LB_DLL" ]]; then
        lab_warn "lab_up: $LB_DLL not found (needed for 'lb realserver setup'): build first (lab_build) or set LB_REALSERVER_FALLBACK=1"
        return 1
    fi
    lab_log "creating lab $P with $N real servers"
    if ! LB_REALSERVER_FALLBACK="${LB_REALSERVER_FALLBACK:-}" LB_DLL="$LB_DLL" \
        bash -c 'source "$1"; shift; _lab_create "$@"' _lab_create "$_LAB_TOPOLOGY_SH" "$P" "$N"; then
        lab_warn "lab_up: setup of $P failed; tearing it down"
        lab_down "$P"
        return 1
    fi
    lab_set_env "$P" "$N"
    for (( i = 1; i <= N; i++ )); do
        if ! lab_wait_for 20 _lab_server_ready "$i"; then
            lab_warn "lab_up: rs$i did not answer from the client within 20 s"
            tail -n 20 "$LAB_DIR/rs$i-error.log" "$LAB_DIR/rs$i-upload.log" >&2 2>/dev/null || true
            lab_down "$P"
            return 1
        fi
    done
    _lab_write_env_file
    lab_log "lab $P is up (LAB_DIR=$LAB_DIR)"
}

# PIDs of processes in the given namespaces (never this shell).
_lab_ns_pids() {
    local n
    for n in "$@"; do
        ip netns pids "$n" 2>/dev/null
    done | grep -vx -e "$$" -e "${BASHPID:-$$}" || true
}

# Sends SIG to the processes in the namespaces and waits up to TENTHS/10 s for them to go.
_lab_ns_kill() { # SIG TENTHS NS...
    local sig="$1" tenths="$2" tries pids
    shift 2
    pids="$(_lab_ns_pids "$@")"
    [[ -z "$pids" ]] && return 0
    # shellcheck disable=SC2086
    kill "-$sig" $pids 2>/dev/null || true
    for (( tries = 0; tries < tenths; tries++ )); do
        if [[ -z "$(_lab_ns_pids "$@")" ]]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# lab_down PREFIX: kills every process in the lab's namespaces (SIGTERM, then
# SIGKILL after 5 s), deletes the namespaces and /tmp/PREFIX.
# Safe to call twice or on a half-built lab.
lab_down() {
    local P="${1:-${LAB_PREFIX:-}}" ns
    _lab_check_prefix "$P" || return 1
    local nss=()
    mapfile -t nss < <(lab_namespaces "$P")
    if (( ${#nss[@]} > 0 )); then
        # Undo the real-server setup the way an operator would, so lb's per-namespace state file
        # under /run/lb does not outlive the namespace.
        for ns in "${nss[@]}"; do
            if [[ "$ns" == "$P"-w* && -n "${LB_DLL:-}" && -f "$LB_DLL" ]]; then
                timeout 20 ip netns exec "$ns" dotnet "$LB_DLL" realserver teardown --vip "${LAB_VIP:-10.99.0.100}" >/dev/null 2>&1 || true
            fi
        done
        if ! _lab_ns_kill TERM 50 "${nss[@]}"; then
            if ! _lab_ns_kill KILL 30 "${nss[@]}"; then
                lab_warn "lab_down: processes still alive in $P namespaces: $(_lab_ns_pids "${nss[@]}" | tr '\n' ' ')"
            fi
        fi
        for ns in "${nss[@]}"; do
            ip netns del "$ns" 2>/dev/null || lab_warn "lab_down: could not delete namespace $ns"
        done
    fi
    rm -rf -- "/tmp/$P"
    return 0
}

# lab_write_dr_config PREFIX FILE: the engine config for this lab's DR services
# (web on :80 and upload on :8080, every real server as a backend).
lab_write_dr_config() {
    local P="$1" file="$2" N i
    _lab_check_prefix "$P" || return 1
    if [[ "${LAB_PREFIX:-}" == "$P" && -n "${LAB_N:-}" ]]; then
        N="$LAB_N"
    else
        N="$(lab_namespaces "$P" | grep -cE -- "-w[0-9]+$" || true)"
        (( N > 0 )) || N=2
    fi
    local backends=""
    for (( i = 1; i <= N; i++ )); do
        backends+="      - name: rs$i"$'\n'"        address: 10.99.1.$(( 10 + i ))"$'\n'
    done
    {
        printf 'hash_seed: 0x5eed\n'
        printf 'workers: 1\n'
        printf 'control_socket: /tmp/%s/lb.sock\n' "$P"
        printf 'services:\n'
        printf '  - name: web\n    vip: 10.99.0.100\n    port: 80\n    protocol: tcp\n    mode: dr\n    interface: %sb0\n    backends:\n' "$P"
        printf '%s' "$backends"
        printf '  - name: upload\n    vip: 10.99.0.100\n    port: 8080\n    protocol: tcp\n    mode: dr\n    interface: %sb0\n    backends:\n' "$P"
        printf '%s' "$backends"
    } > "$file"
}

# Real server I (1-based) of the current lab (lab_set_env first): stop or start its nginx, or remove /
# restore its soft-stop file /running.
lab_server_stop() { local d="$LAB_DIR/rs$1"; ip netns exec "$LAB_PREFIX-w$1" nginx -c "$d/nginx.conf" -p "$d/" -s stop; }
lab_server_start() {
    local d="$LAB_DIR/rs$1"
    ip netns exec "$LAB_PREFIX-w$1" nginx -c "$d/nginx.conf" -p "$d/" -e "$LAB_DIR/rs$1-error.log" -g 'daemon on;' </dev/null
}
lab_server_softstop() { rm -f "$LAB_DIR/rs$1/running"; }
lab_server_softstart() { echo "rs$1" > "$LAB_DIR/rs$1/running"; }

# lab_add_generator PREFIX: a traffic-generator namespace <P>-g wired straight to the balancer by its own
# veth (<P>g0 10.99.3.2/24 <-> <P>b1 10.99.3.1/24 in the balancer namespace), so a pps run's generator
# does not also pay for the LAN bridge (it would then cap the measurement, not the balancer). RPS sends
# the balancer's receive processing for <P>b1 to CPU 1 (the device-under-test core).
# Exports LAB_GEN_NS LAB_GEN_IF LAB_GEN_ADDR LAB_BALANCER_GEN_IF LAB_BALANCER_GEN_ADDR.
lab_add_generator() {
    local P="$1"
    _lab_check_prefix "$P" || return 1
    export LAB_GEN_NS="$P-g" LAB_GEN_IF="${P}g0" LAB_GEN_ADDR=10.99.3.2
    export LAB_BALANCER_GEN_IF="${P}b1" LAB_BALANCER_GEN_ADDR=10.99.3.1
    ip netns add "$LAB_GEN_NS" || return 1
    ip link add "$LAB_GEN_IF" netns "$LAB_GEN_NS" type veth peer "$LAB_BALANCER_GEN_IF" netns "$LAB_BALANCER_NS" || return 1
    ip -n "$LAB_GEN_NS" link set lo up
    ip -n "$LAB_GEN_NS" addr add "$LAB_GEN_ADDR/24" dev "$LAB_GEN_IF"
    ip -n "$LAB_GEN_NS" link set "$LAB_GEN_IF" up
    ip -n "$LAB_BALANCER_NS" addr add "$LAB_BALANCER_GEN_ADDR/24" dev "$LAB_BALANCER_GEN_IF"
    ip -n "$LAB_BALANCER_NS" link set "$LAB_BALANCER_GEN_IF" up
    ip netns exec "$LAB_BALANCER_NS" sysctl -qw "net.ipv4.conf.$LAB_BALANCER_GEN_IF.rp_filter=0" \
        "net.ipv4.conf.$LAB_BALANCER_GEN_IF.send_redirects=0"
    ip netns exec "$LAB_BALANCER_NS" sh -c "echo 2 > /sys/class/net/$LAB_BALANCER_GEN_IF/queues/rx-0/rps_cpus"
}
