# shellcheck shell=bash
# What every lab of lab/lib/topology.sh shares: prefixes, the LAB_* variables, the build steps the labs'
# builders are made of, waiting until the hosts answer, the env file, teardown and the config writers'
# common part. Sourced by topology.sh (after common.sh); the lab files (dr.sh, nat.sh, clusterip.sh)
# hold what differs.
#
# Invariants every lab keeps:
# - Everything lives in namespaces named "<P>-..." and in /tmp/<P>; veths are created straight into their
#   namespaces, so nothing shows in the root namespace and lab_down finds it all by prefix.
# - /tmp/<P>/mode is the first file a builder writes: lab_down and lab_set_env know the lab's kind even
#   when it is half-built.
# - A builder runs in its own bash under set -e (see _lab_build): the first failing command stops it, and
#   the half-built lab is torn down.
# - The hosts (real servers, or the nodes of a CLUSTERIP lab) are LAB_SERVER_*: every host-wide step
#   (links, addresses, servers, waiting) walks those lists.

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

# The kind of lab PREFIX is, from /tmp/PREFIX/mode (every builder writes it first): "nat" or "clusterip",
# else "dr" (also when there is no such lab).
_lab_mode_of() {
    local f="/tmp/$1/mode" m=""
    [[ -r "$f" ]] && m="$(< "$f")"
    case "$m" in
        nat|clusterip|ha|ecmp) echo "$m" ;;
        *) echo dr ;;
    esac
}

# lab_set_env PREFIX [N] [MODE]: sets and exports the LAB_* variables for lab PREFIX.
# MODE is dr, nat or clusterip; without it, the mode the lab was built in (dr when there is no such lab).
# N defaults to 2 (3 for clusterip).
lab_set_env() {
    local P="$1" N="${2:-}" mode="${3:-}"
    _lab_check_prefix "$P" || return 1
    [[ -n "$mode" ]] || mode="$(_lab_mode_of "$P")"
    if [[ "$mode" != dr && "$mode" != nat && "$mode" != clusterip && "$mode" != ha && "$mode" != ecmp ]]; then
        lab_warn "lab_set_env: mode must be dr, nat, clusterip, ha or ecmp, got '$mode'"
        return 1
    fi
    if [[ -z "$N" ]]; then
        if [[ "$mode" == clusterip || "$mode" == ha || "$mode" == ecmp ]]; then N=3; else N=2; fi
    fi
    export LAB_MODE="$mode"
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
    # Dual stack: the IPv6 twin of each address above (2001:db8:X:: for 10.99.X.0/24).
    export LAB_VIP6=2001:db8::100 LAB_CLIENT_ADDR6=2001:db8:2::2 LAB_ROUTER_CLIENT_ADDR6=2001:db8:2::1
    export LAB_ROUTER_LAN_ADDR6=2001:db8:1::1 LAB_BALANCER_ADDR6=2001:db8:1::10
    # A shell that set up another kind of lab before must not keep that lab's variables.
    unset LAB_UDP_PORT "${_LAB_NAT_VARS[@]}" "${_LAB_CLUSTER_VARS[@]}" "${_LAB_HA_VARS[@]}" "${_LAB_ECMP_VARS[@]}"
    "_lab_env_$mode" "$P" "$N"
    export LAB_BIG_FILE="$LAB_DIR/www/big"
    LAB_BIG_SHA256=""
    [[ -r "$LAB_DIR/big.sha256" ]] && LAB_BIG_SHA256="$(< "$LAB_DIR/big.sha256")"
    export LAB_BIG_SHA256
}

# _lab_export_hosts P LETTER NET NAME N: LAB_SERVER_NS/IFS/ADDRS/NAMES for N hosts: namespaces <P>-<LETTER>I,
# interfaces <P><LETTER>I, addresses NET.(10+I), names NAME<I>.
_lab_export_hosts() {
    local P="$1" letter="$2" net="$3" word="$4" N="$5" i nsl=() ifs=() addrs=() addrs6=() names=()
    for (( i = 1; i <= N; i++ )); do
        nsl+=("$P-$letter$i"); ifs+=("$P$letter$i"); addrs+=("$net.$(( 10 + i ))"); names+=("$word$i")
        addrs6+=("2001:db8:${net##*.}::$(( 10 + i ))")
    done
    export LAB_SERVER_NS="${nsl[*]}" LAB_SERVER_IFS="${ifs[*]}"
    export LAB_SERVER_ADDRS="${addrs[*]}" LAB_SERVER_ADDRS6="${addrs6[*]}" LAB_SERVER_NAMES="${names[*]}"
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
    ip -n "$ns" addr replace "$LAB_VIP6/128" dev lo nodad
}

# _lab_host_up NS DEV ADDR GATEWAY: a lab host's address (/24), link and default route.
_lab_host_up() {
    ip -n "$1" addr add "$3/24" dev "$2"
    ip -n "$1" link set "$2" up
    ip -n "$1" route add default via "$4"
}

# _lab_host_up6 NS DEV ADDR6 GATEWAY6: the host's IPv6 address (/64, no duplicate detection, so it is usable at
# once) and IPv6 default route; no router advertisements are taken (the lab routes by hand).
_lab_host_up6() {
    _lab_sysctl "$1" "net.ipv6.conf.$2.accept_ra=0" net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
    ip -n "$1" addr add "$3/64" dev "$2" nodad
    ip -n "$1" -6 route add default via "$4" dev "$2"
}

# _lab_vip_on_lo NS DEV NAME: the VIP on lo with ARP suppressed, by `lb realserver setup` (or, with
# LB_REALSERVER_FALLBACK=1, by hand), then checked: a host that would answer ARP for the VIP steals it.
_lab_vip_on_lo() {
    local ns="$1" dev="$2" name="$3"
    if [[ "${LB_REALSERVER_FALLBACK:-}" == 1 ]]; then
        _lab_realserver_fallback "$ns" "$dev" "$LAB_VIP"
    else
        ip netns exec "$ns" dotnet "$LB_DLL" realserver setup --vip "$LAB_VIP" --vip "$LAB_VIP6" \
            </dev/null >> "$LAB_DIR/$name-realserver.log" 2>&1 || {
            echo "[lab] error: 'lb realserver setup' failed in $ns:" >&2
            cat "$LAB_DIR/$name-realserver.log" >&2
            return 1
        }
    fi
    # Captured, not piped into grep -q: under pipefail an early grep exit gives ip SIGPIPE when it writes the
    # next address (IPv6 lists the VIP before ::1), and the pipeline fails although the VIP is there.
    local on_lo4 on_lo6
    on_lo4="$(ip -n "$ns" -4 addr show dev lo)"
    on_lo6="$(ip -n "$ns" -6 addr show dev lo)"
    if [[ "$on_lo4" != *"inet $LAB_VIP/32"* ]]; then
        echo "[lab] error: VIP $LAB_VIP/32 is not on lo in $ns after real-server setup" >&2
        return 1
    fi
    if [[ "$on_lo6" != *"inet6 $LAB_VIP6/128"* ]]; then
        echo "[lab] error: VIP $LAB_VIP6/128 is not on lo in $ns after real-server setup" >&2
        return 1
    fi
    if [[ "$(ip netns exec "$ns" sysctl -n net.ipv4.conf.all.arp_ignore)" != 1 ||
          "$(ip netns exec "$ns" sysctl -n net.ipv4.conf.all.arp_announce)" != 2 ||
          "$(ip netns exec "$ns" sysctl -n "net.ipv4.conf.$dev.arp_ignore")" != 1 ||
          "$(ip netns exec "$ns" sysctl -n "net.ipv4.conf.$dev.arp_announce")" != 2 ]]; then
        echo "[lab] error: arp_ignore/arp_announce not set in $ns after real-server setup" >&2
        return 1
    fi
}

# ---- build steps: a builder (_lab_create_<mode>) is _lab_create_begin, its own links, _lab_host_links,
# ---- _lab_client_router_setup, its own addressing, then _lab_create_hosts.

# _lab_create_begin MODE P N: the first steps of every builder: set -e, the LAB_* variables, /tmp/P with
# its mode file and www/, the namespaces (lo up in each), the switch, and the client <-> router veth.
_lab_create_begin() {
    set -Eeuo pipefail
    # errtrace (-E) so that a failure inside a step function is reported too, with its file and line.
    trap 'echo "[lab] error: lab setup failed at ${BASH_SOURCE[0]##*/} line $LINENO: $BASH_COMMAND" >&2' ERR
    local mode="$1" P="$2" N="$3" hosts=()
    lab_set_env "$P" "$N" "$mode"
    read -r -a hosts <<< "$LAB_SERVER_NS"

    mkdir -m 0755 "$LAB_DIR"
    # First, so that lab_down and lab_set_env know the lab's kind even half-built.
    echo "$mode" > "$LAB_DIR/mode"
    mkdir -m 0755 "$LAB_DIR/www"

    # No balancer namespace in a CLUSTERIP lab (lab_set_env unset LAB_BALANCER_NS).
    _lab_add_namespaces "$LAB_CLIENT_NS" "$LAB_ROUTER_NS" "$LAB_SWITCH_NS" ${LAB_BALANCER_NS:+"$LAB_BALANCER_NS"} "${hosts[@]}"
    _lab_switch_setup

    # veths are created straight into their namespaces: nothing shows in the root namespace.
    ip link add "$LAB_CLIENT_IF" netns "$LAB_CLIENT_NS" type veth peer name "$LAB_ROUTER_CLIENT_IF" netns "$LAB_ROUTER_NS"
}

# Creates the lab's namespaces (lo up in each).
_lab_add_namespaces() { # NS...
    local ns
    for ns in "$@"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
}

# Switch: a pure L2 box. No IPv6 chatter from its ports, no bridge netfilter (../shared/LAB.md item 10:
# it is on in new namespaces, and bridged frames would also cross the IP hooks).
_lab_switch_setup() {
    _lab_sysctl "$LAB_SWITCH_NS" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    local k
    for k in bridge-nf-call-iptables bridge-nf-call-ip6tables bridge-nf-call-arptables; do
        if ip netns exec "$LAB_SWITCH_NS" test -e "/proc/sys/net/bridge/$k"; then
            _lab_sysctl "$LAB_SWITCH_NS" "net.bridge.$k=0"
        fi
    done
    ip -n "$LAB_SWITCH_NS" link add "$LAB_BRIDGE" type bridge stp_state 0 forward_delay 0
    ip -n "$LAB_SWITCH_NS" link set "$LAB_BRIDGE" up
}

# Switch ports DEV... (already in the switch namespace) join the bridge and come up.
_lab_bridge_ports() {
    local dev
    for dev in "$@"; do
        ip -n "$LAB_SWITCH_NS" link set "$dev" master "$LAB_BRIDGE"
        ip -n "$LAB_SWITCH_NS" link set "$dev" up
    done
}

# _lab_host_links PORT...: each host's veth to the switch (<P>sI on the switch's side), then the bridge
# ports: PORT... (the switch ends of the builder's own veths, in that order) and the hosts' <P>s1..<P>sN.
_lab_host_links() {
    local ports=("$@") hosts=() devs=() i
    read -r -a hosts <<< "$LAB_SERVER_NS"
    read -r -a devs <<< "$LAB_SERVER_IFS"
    for (( i = 0; i < LAB_N; i++ )); do
        ip link add "${devs[i]}" netns "${hosts[i]}" type veth peer name "${LAB_PREFIX}s$(( i + 1 ))" netns "$LAB_SWITCH_NS"
        ports+=("${LAB_PREFIX}s$(( i + 1 ))")
    done
    _lab_bridge_ports "${ports[@]}"
}

# Client and router addresses, routes and sysctls (the links exist already).
_lab_client_router_setup() {
    # Client.
    ip -n "$LAB_CLIENT_NS" addr add "$LAB_CLIENT_ADDR/24" dev "$LAB_CLIENT_IF"
    ip -n "$LAB_CLIENT_NS" link set "$LAB_CLIENT_IF" up
    ip -n "$LAB_CLIENT_NS" route add default via "$LAB_ROUTER_CLIENT_ADDR"

    # Router. DR replies come from the VIP: loose rp_filter (../shared/LAB.md item 3).
    _lab_sysctl "$LAB_ROUTER_NS" net.ipv4.ip_forward=1 \
        net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.default.rp_filter=2 \
        "net.ipv4.conf.$LAB_ROUTER_CLIENT_IF.rp_filter=2" "net.ipv4.conf.$LAB_ROUTER_LAN_IF.rp_filter=2"
    ip -n "$LAB_ROUTER_NS" addr add "$LAB_ROUTER_CLIENT_ADDR/24" dev "$LAB_ROUTER_CLIENT_IF"
    ip -n "$LAB_ROUTER_NS" addr add "$LAB_ROUTER_LAN_ADDR/24" dev "$LAB_ROUTER_LAN_IF"
    ip -n "$LAB_ROUTER_NS" link set "$LAB_ROUTER_CLIENT_IF" up
    ip -n "$LAB_ROUTER_NS" link set "$LAB_ROUTER_LAN_IF" up
    ip -n "$LAB_ROUTER_NS" route add "$LAB_VIP/32" dev "$LAB_ROUTER_LAN_IF"

    # IPv6: the same shape (the VIP6 found by neighbour discovery on the LAN).
    _lab_host_up6 "$LAB_CLIENT_NS" "$LAB_CLIENT_IF" "$LAB_CLIENT_ADDR6" "$LAB_ROUTER_CLIENT_ADDR6"
    _lab_sysctl "$LAB_ROUTER_NS" net.ipv6.conf.all.forwarding=1 net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
    ip -n "$LAB_ROUTER_NS" addr add "$LAB_ROUTER_CLIENT_ADDR6/64" dev "$LAB_ROUTER_CLIENT_IF" nodad
    ip -n "$LAB_ROUTER_NS" addr add "$LAB_ROUTER_LAN_ADDR6/64" dev "$LAB_ROUTER_LAN_IF" nodad
    ip -n "$LAB_ROUTER_NS" -6 route add "$LAB_VIP6/128" dev "$LAB_ROUTER_LAN_IF"
}

# The 10 MB /big file, the same bytes on every server.
_lab_make_big_file() {
    head -c 10485760 /dev/urandom > "$LAB_BIG_FILE"
    chmod 0644 "$LAB_BIG_FILE"
    sha256sum "$LAB_BIG_FILE" | cut -d' ' -f1 > "$LAB_DIR/big.sha256"
}

# _lab_start_servers NS NAME [EXTRA_LISTEN]: nginx from the template (EXTRA_LISTEN: nothing or one
# more nginx listen directive) and the upload server on $LAB_UPLOAD_PORT, in server namespace NS.
_lab_start_servers() {
    local ns="$1" name="$2" extra="${3:-}"
    local template="$LAB_ROOT/lab/servers/nginx.conf.template" dir

    # nginx, fully separate per server: own config, pid, temp paths and logs.
    dir="$LAB_DIR/$name"
    mkdir -p "$dir/tmp"
    echo "$name" > "$dir/running"
    sed -e "s|@NAME@|$name|g" -e "s|@DIR@|$dir|g" -e "s|@LAB_DIR@|$LAB_DIR|g" \
        -e "s|@WWW@|$LAB_DIR/www|g" -e "s|@EXTRA_LISTEN@|$extra|g" "$template" > "$dir/nginx.conf"
    ip netns exec "$ns" nginx -c "$dir/nginx.conf" -p "$dir/" -e "$LAB_DIR/$name-error.log" \
        -g 'daemon on;' </dev/null >> "$LAB_DIR/$name-nginx.out" 2>&1 || {
        echo "[lab] error: nginx failed to start in $ns:" >&2
        cat "$LAB_DIR/$name-nginx.out" "$LAB_DIR/$name-error.log" >&2 2>/dev/null || true
        return 1
    }

    # Upload server, detached (not a job of any shell; lab_down finds it by namespace).
    ( ip netns exec "$ns" "$LAB_PYTHON" "$LAB_ROOT/lab/servers/upload_server.py" \
        --name "$name" --port "$LAB_UPLOAD_PORT" </dev/null >> "$LAB_DIR/$name-upload.log" 2>&1 & )
}

# _lab_start_udp_echo NS NAME [BIND]: the UDP echo server on $LAB_UDP_PORT, detached like the upload server;
# BIND :: makes an IPv6-only one beside the IPv4 one (log NAME-udp6.log).
_lab_start_udp_echo() {
    local ns="$1" name="$2" bind="${3:-0.0.0.0}" log="$2-udp.log"
    [[ "$bind" == *:* ]] && log="$2-udp6.log"
    ( ip netns exec "$ns" "$LAB_PYTHON" "$LAB_ROOT/lab/servers/udp_echo.py" \
        --name "$name" --port "$LAB_UDP_PORT" --bind "$bind" </dev/null >> "$LAB_DIR/$log" 2>&1 & )
}

# _lab_start_upload6 NS NAME: an IPv6-only upload server on $LAB_UPLOAD_PORT beside the IPv4 one (log NAME-upload6.log).
_lab_start_upload6() {
    local ns="$1" name="$2"
    ( ip netns exec "$ns" "$LAB_PYTHON" "$LAB_ROOT/lab/servers/upload_server.py" \
        --name "$name" --port "$LAB_UPLOAD_PORT" --bind :: </dev/null >> "$LAB_DIR/$name-upload6.log" 2>&1 & )
}

# _lab_create_hosts GATEWAY [HOST_STEP]: the /big file, then per host (server or node): its address, link
# and default route via GATEWAY; HOST_STEP NS DEV NAME (what this lab's hosts need besides, e.g. the VIP on
# lo); nginx (rs2 also on LAB_HTTP_ALT_PORT where the lab has one) and the upload server; the UDP echo where
# the lab has LAB_UDP_PORT.
_lab_create_hosts() {
    local gateway="$1" step="${2:-}" gateway6="${3:-}" hosts=() devs=() addrs=() addrs6=() names=() i extra
    read -r -a hosts <<< "$LAB_SERVER_NS"
    read -r -a devs <<< "$LAB_SERVER_IFS"
    read -r -a addrs <<< "$LAB_SERVER_ADDRS"
    read -r -a addrs6 <<< "$LAB_SERVER_ADDRS6"
    read -r -a names <<< "$LAB_SERVER_NAMES"

    _lab_make_big_file

    for (( i = 0; i < LAB_N; i++ )); do
        _lab_host_up "${hosts[i]}" "${devs[i]}" "${addrs[i]}" "$gateway"
        if [[ -n "$gateway6" ]]; then
            _lab_host_up6 "${hosts[i]}" "${devs[i]}" "${addrs6[i]}" "$gateway6"
        fi
        if [[ -n "$step" ]]; then
            "$step" "${hosts[i]}" "${devs[i]}" "${names[i]}"
        fi
        extra=""
        if [[ "${names[i]}" == rs2 && -n "${LAB_HTTP_ALT_PORT:-}" ]]; then
            extra="listen 0.0.0.0:$LAB_HTTP_ALT_PORT backlog=4096; listen [::]:$LAB_HTTP_ALT_PORT backlog=4096;"
        fi
        _lab_start_servers "${hosts[i]}" "${names[i]}" "$extra"
        if [[ -n "${LAB_UDP_PORT:-}" ]]; then
            _lab_start_udp_echo "${hosts[i]}" "${names[i]}"
        fi
    done
}

# ---- bringing a lab up: the steps lab_up, lab_up_nat and lab_up_cluster share.

# _lab_preflight WHO P N: a valid prefix, a host count of 1..99, and no lab of that prefix yet.
_lab_preflight() {
    local who="$1" P="$2" N="$3"
    _lab_check_prefix "$P" || return 1
    if [[ ! "$N" =~ ^[0-9]+$ ]] || (( N < 1 || N > 99 )); then
        lab_warn "$who: host count must be 1..99, got '$N'"
        return 1
    fi
    if [[ -n "$(lab_namespaces "$P")" || -e "/tmp/$P" ]]; then
        lab_warn "$who: lab $P already exists"
        return 1
    fi
}

# _lab_need_lb WHO: labs whose hosts run `lb realserver setup` need the built CLI (or the fallback).
_lab_need_lb() {
    if [[ "${LB_REALSERVER_FALLBACK:-}" != 1 && ! -f "$LB_DLL" ]]; then
        lab_warn "$1: $LB_DLL not found (needed for 'lb realserver setup'): build first (lab_build) or set LB_REALSERVER_FALLBACK=1"
        return 1
    fi
}

# _lab_build WHO MODE P N: runs the lab's builder _lab_create_MODE in its own bash under set -e (so the
# first failing command stops it and says where, without set -e leaking into the caller); on failure tears
# the half-built lab down. Then sets the lab's LAB_* variables in this shell.
_lab_build() {
    local who="$1" mode="$2" P="$3" N="$4"
    if ! LB_REALSERVER_FALLBACK="${LB_REALSERVER_FALLBACK:-}" LB_DLL="$LB_DLL" \
        bash -c 'source "$1"; fn="$2"; shift 2; "$fn" "$@"' "_lab_create_$mode" "$_LAB_TOPOLOGY_SH" "_lab_create_$mode" "$P" "$N"; then
        lab_warn "$who: setup of $P failed; tearing it down"
        lab_down "$P"
        return 1
    fi
    lab_set_env "$P" "$N" "$mode"
}

# _lab_host_answers FROM_NS ADDR NAME PORT...: true when the host at ADDR answers NAME over HTTP on each
# PORT, and (when LAB_UDP_PORT is set) "NAME <payload>" from its UDP echo, asked from namespace FROM_NS.
_lab_host_answers() {
    local from="$1" addr="$2" name="$3" port out host="$2"
    shift 3
    [[ "$addr" == *:* ]] && host="[$addr]"
    for port in "$@"; do
        out="$(ip netns exec "$from" curl -s --noproxy '*' --max-time 1 "http://$host:$port/")" || return 1
        [[ "$out" == "$name" ]] || return 1
    done
    [[ -n "${LAB_UDP_PORT:-}" ]] || return 0
    out="$(ip netns exec "$from" "$LAB_PYTHON" "$LAB_ROOT/lab/servers/udp_echo.py" \
        --query "$addr" --port "$LAB_UDP_PORT" --payload ready --timeout 1)" || return 1
    [[ "$out" == "$name ready" ]]
}

# _lab_wait_hosts WHO P N FROM_NS WHERE [ipv6]: waits (bounded) until each host (server or node) answers on its own
# address from namespace FROM_NS (_lab_host_answers: nginx, the upload server, in a NAT lab rs2's second nginx
# port, the UDP echo where the lab has one), with "ipv6" on its IPv6 address too; on a timeout shows the host's
# logs, tears the lab down and fails.
_lab_wait_hosts() {
    local who="$1" P="$2" N="$3" from="$4" where="$5" i name addrs addrs6 names ports addr
    read -r -a addrs <<< "$LAB_SERVER_ADDRS"
    read -r -a addrs6 <<< "$LAB_SERVER_ADDRS6"
    read -r -a names <<< "$LAB_SERVER_NAMES"
    for (( i = 0; i < N; i++ )); do
        name="${names[i]}"
        ports=("$LAB_HTTP_PORT" "$LAB_UPLOAD_PORT")
        [[ "$name" == rs2 && -n "${LAB_HTTP_ALT_PORT:-}" ]] && ports+=("$LAB_HTTP_ALT_PORT")
        for addr in "${addrs[i]}" ${6:+"${addrs6[i]}"}; do
            lab_wait_for 20 _lab_host_answers "$from" "$addr" "$name" "${ports[@]}" && continue
            lab_warn "$who: $name did not answer on $addr from the $where within 20 s"
            tail -n 20 "$LAB_DIR/$name-error.log" "$LAB_DIR"/"$name"-upload*.log "$LAB_DIR"/"$name"-udp*.log >&2 2>/dev/null || true
            lab_down "$P"
            return 1
        done
    done
}

# _lab_write_env_file [VAR...]: the LAB_* variables every lab has (the balancer's only where the lab has one),
# then VAR... (the lab's own), as KEY="VALUE" lines in $LAB_DIR/lab.env.
_lab_write_env_file() {
    local v balancer=()
    if [[ -n "${LAB_BALANCER_NS+set}" ]]; then
        balancer=(LAB_BALANCER_NS LAB_BALANCER_IF LAB_BALANCER_ADDR)
    fi
    {
        for v in LAB_MODE LAB_PREFIX LAB_DIR LAB_N LAB_VIP LAB_HTTP_PORT LAB_UPLOAD_PORT \
                 LAB_CLIENT_NS LAB_CLIENT_IF LAB_CLIENT_ADDR \
                 LAB_ROUTER_NS LAB_ROUTER_CLIENT_IF LAB_ROUTER_CLIENT_ADDR LAB_ROUTER_LAN_IF LAB_ROUTER_LAN_ADDR \
                 LAB_SWITCH_NS LAB_BRIDGE "${balancer[@]}" \
                 LAB_SERVER_NS LAB_SERVER_IFS LAB_SERVER_ADDRS LAB_SERVER_NAMES \
                 LAB_VIP6 LAB_CLIENT_ADDR6 LAB_ROUTER_CLIENT_ADDR6 LAB_ROUTER_LAN_ADDR6 LAB_BALANCER_ADDR6 LAB_SERVER_ADDRS6 \
                 LAB_BIG_FILE LAB_BIG_SHA256 LB_DLL "$@"; do
            printf '%s="%s"\n' "$v" "${!v}"
        done
    } > "$LAB_DIR/lab.env"
}

# ---- teardown

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
        # under /run/lb does not outlive the namespace. A NAT lab had none; in a CLUSTERIP lab the
        # nodes had it. (Engines still running in the nodes are stopped by the SIGTERM below.)
        local mode
        mode="$(_lab_mode_of "$P")"
        for ns in "${nss[@]}"; do
            if [[ ( ( ( "$mode" == dr || "$mode" == ha || "$mode" == ecmp ) && "$ns" == "$P"-w* ) || ( "$mode" == clusterip && "$ns" == "$P"-n* ) ) &&
                  -n "${LB_DLL:-}" && -f "$LB_DLL" ]]; then
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

# ---- engine configs and real servers

# _lab_host_count PREFIX LETTER DEFAULT: how many hosts lab PREFIX has: LAB_N when lab_set_env was run for
# that lab (for LETTER n, a CLUSTERIP lab's nodes, only in that mode), else how many <P>-<LETTER>I namespaces
# it has, else DEFAULT.
_lab_host_count() {
    local P="$1" letter="$2" default="$3" n
    if [[ "${LAB_PREFIX:-}" == "$P" && -n "${LAB_N:-}" && ( "$letter" != n || "${LAB_MODE:-}" == clusterip ) ]]; then
        echo "$LAB_N"
        return
    fi
    n="$(lab_namespaces "$P" | grep -cE -- "-${letter}[0-9]+$" || true)"
    (( n > 0 )) || n="$default"
    echo "$n"
}

# _lab_config_head PREFIX SOCKET: the lines every engine config of a lab starts with (the same seed
# everywhere, so runs and nodes agree; one worker; the control socket /tmp/PREFIX/SOCKET).
_lab_config_head() {
    printf 'hash_seed: 0x5eed\n'
    printf 'workers: 1\n'
    printf 'control_socket: /tmp/%s/%s\n' "$1" "$2"
}

# lab_start_balancer_engine PREFIX I: balancer I's engine in namespace <P>-bI (HA and ECMP labs) from $LAB_DIR/lbI.yaml,
# detached, log in lbI.log, pid in lbI.pid; waits (bounded) until it answers lb status.
lab_start_balancer_engine() {
    local P="$1" I="$2" ns="$1-b$2"
    ( ip netns exec "$ns" dotnet "$LB_DLL" run --config "$LAB_DIR/lb$I.yaml" </dev/null >> "$LAB_DIR/lb$I.log" 2>&1 &
      echo $! > "$LAB_DIR/lb$I.pid" )
    if ! lab_wait_for 30 ip netns exec "$ns" dotnet "$LB_DLL" status --config "$LAB_DIR/lb$I.yaml"; then
        lab_warn "lab_start_balancer_engine: the engine of balancer $I ($P) did not answer within 30 s"
        tail -n 20 "$LAB_DIR/lb$I.log" >&2
        return 1
    fi
}

# Real server I (1-based) of the current DR or NAT lab (lab_set_env first): stop or start its nginx, or
# remove / restore its soft-stop file /running.
lab_server_stop() { local d="$LAB_DIR/rs$1"; ip netns exec "$LAB_PREFIX-w$1" nginx -c "$d/nginx.conf" -p "$d/" -s stop; }
lab_server_start() {
    local d="$LAB_DIR/rs$1"
    ip netns exec "$LAB_PREFIX-w$1" nginx -c "$d/nginx.conf" -p "$d/" -e "$LAB_DIR/rs$1-error.log" -g 'daemon on;' </dev/null
}
lab_server_softstop() { rm -f "$LAB_DIR/rs$1/running"; }
lab_server_softstart() { echo "rs$1" > "$LAB_DIR/rs$1/running"; }
