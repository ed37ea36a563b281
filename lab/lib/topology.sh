# shellcheck shell=bash
# Lab topologies in network namespaces (DR, NAT and CLUSTERIP). Source it; it only defines functions.
#
# DR lab (lab_up):
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
# NAT lab (lab_up_nat), two-armed: the balancer is the real servers' gateway.
#
#   client ns  <P>-c   <P>c0 10.99.2.2/24, default via 10.99.2.1
#        |
#   router ns  <P>-r   <P>r0 10.99.2.1/24   <P>r1 10.99.1.1/24 (front link), ip_forward=1,
#        |             rp_filter=2, route 10.99.0.100/32 dev <P>r1 (VIP found by ARP)
#        |  direct veth pair <P>r1 <-> <P>b0 (no bridge on the front)
#   balancer ns <P>-b  <P>b0 10.99.1.10/24 (front), <P>b1 10.99.4.1/24 (back),
#        |             default via 10.99.1.1, ip_forward=0 (the engine forwards, not the kernel)
#   switch ns  <P>-s   back bridge <P>br (no STP, forward delay 0, bridge-nf off),
#        |             ports <P>sb (balancer's <P>b1), <P>s1..<P>sN (servers)
#        +-- server ns    <P>-wI  <P>wI 10.99.4.(10+I)/24, default via 10.99.4.1; no VIP, no ARP settings;
#                                 nginx :80 (rs2 also :8081, same content), upload server :8080,
#                                 UDP echo :5353 ("rsI <payload>")
#   No route to 10.99.4.0/24 on the router: the client reaches the servers only through the engine.
#
# CLUSTERIP lab (lab_up_cluster): no balancer; every node runs its own engine and owns a share of the flows.
#
#   client ns  <P>-c   <P>c0 10.99.2.2/24, default via 10.99.2.1
#        |
#   router ns  <P>-r   <P>r0 10.99.2.1/24   <P>r1 10.99.1.1/24 (LAN), ip_forward=1, rp_filter=2,
#        |             arp_accept=1 on <P>r1, route 10.99.0.100/32 dev <P>r1 (VIP found by ARP: the
#        |             nodes' engines answer it with the multicast cluster MAC 01:00:5e:7f:00:64;
#        |             no static neighbour entry)
#   switch ns  <P>-s   bridge <P>br (no STP, forward delay 0, bridge-nf off, mcast_snooping 0 so frames
#        |             to the cluster MAC are flooded to every port), ports <P>sr (router), <P>s1..<P>sN
#        +-- node ns      <P>-nI  <P>nI 10.99.1.(10+I)/24, default via 10.99.1.1, VIP 10.99.0.100/32 on lo,
#                                 arp_ignore=1, arp_announce=2 (the node's kernel never answers ARP for the
#                                 VIP: its engine does), rp_filter=0 on all/default/lo/<P>nI (re-injection
#                                 through a TAP the engine creates), nginx :80 ("nodeI\n" on /, 10 MB /big),
#                                 upload server :8080
#
# Usage:
#   source lab/lib/topology.sh
#   P=$(lab_new_prefix)
#   lab_setup_traps "lab_down $P"      # teardown on exit, error, Ctrl-C, SIGTERM
#   lab_up "$P" 2                      # builds it and waits until every server answers
#   lab_write_dr_config "$P" "$LAB_DIR/lb.yaml"
#   ...
#   lab_down "$P"                      # idempotent; also fine on a half-built lab
# or, for NAT, lab_up_nat "$P" 2 and lab_write_nat_config "$P" "$LAB_DIR/lb.yaml";
# or, for CLUSTERIP, lab_up_cluster "$P" 3 and, per node I, lab_write_cluster_config "$P" I "$LAB_DIR/lb-nodeI.yaml".
#
# Functions: lab_new_prefix, lab_set_env, lab_up, lab_up_nat, lab_up_cluster, lab_down, lab_write_dr_config,
#            lab_write_nat_config, lab_write_cluster_config, lab_namespaces,
#            lab_server_{stop,start,softstop,softstart} (DR/NAT servers), lab_add_generator (DR lab only: it
#            uses the name <P>b1) (plus everything from common.sh).
#
# Exported by lab_up / lab_up_nat / lab_up_cluster / lab_set_env (lists are space-separated, in server order):
#   LAB_MODE (dr, nat or clusterip)
#   LAB_PREFIX LAB_DIR LAB_N LAB_VIP LAB_HTTP_PORT LAB_UPLOAD_PORT
#   LAB_CLIENT_NS LAB_CLIENT_IF LAB_CLIENT_ADDR
#   LAB_ROUTER_NS LAB_ROUTER_CLIENT_IF LAB_ROUTER_CLIENT_ADDR LAB_ROUTER_LAN_IF LAB_ROUTER_LAN_ADDR
#   LAB_SWITCH_NS LAB_BRIDGE
#   LAB_BALANCER_NS LAB_BALANCER_IF LAB_BALANCER_ADDR
#   LAB_SERVER_NS LAB_SERVER_IFS LAB_SERVER_ADDRS LAB_SERVER_NAMES
#   LAB_BIG_FILE (10 MB file served as /big) LAB_BIG_SHA256 (its hex sha256, also in $LAB_DIR/big.sha256)
# NAT lab only (unset in a DR lab):
#   LAB_ROUTER_FRONT_IF LAB_ROUTER_FRONT_ADDR (= <P>r1, 10.99.1.1: the LAN names above, too)
#   LAB_BALANCER_BACK_IF LAB_BALANCER_BACK_ADDR (<P>b1, 10.99.4.1)
#   LAB_UDP_PORT (5353, UDP echo on every server; on every node in a CLUSTERIP lab too)
#   LAB_HTTP_ALT_PORT (8081, nginx on rs2 only)
#   In a NAT lab LAB_SERVER_ADDRS are 10.99.4.11 ...; LAB_BALANCER_IF is the front <P>b0.
# CLUSTERIP lab only (unset in the others):
#   LAB_NODE_NS LAB_NODE_IFS LAB_NODE_ADDRS LAB_NODE_NAMES (<P>-n1 ..., <P>n1 ..., 10.99.1.11 ..., node1 ...)
#   LAB_CLUSTER_MAC (01:00:5e:7f:00:64)
#   In a CLUSTERIP lab there is no balancer: LAB_BALANCER_NS/IF/ADDR are unset, and LAB_SERVER_NS/IFS/
#   ADDRS/NAMES hold the same lists as LAB_NODE_* (the nodes are the real servers).
# lab_up / lab_up_nat / lab_up_cluster also write them as KEY="VALUE" lines to $LAB_DIR/lab.env.
#
# Real-server VIP setup (DR servers and CLUSTERIP nodes) runs `dotnet $LB_DLL realserver setup --vip
# 10.99.0.100` in each server/node namespace; with LB_REALSERVER_FALLBACK=1 the same is done here with
# sysctl + ip. lab_down runs `realserver teardown` there when LB_DLL exists.
# The NAT lab needs neither LB_DLL nor LB_REALSERVER_FALLBACK.

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

# NAT-only variables, unset by lab_set_env for a DR lab.
_LAB_NAT_VARS=(LAB_ROUTER_FRONT_IF LAB_ROUTER_FRONT_ADDR LAB_BALANCER_BACK_IF LAB_BALANCER_BACK_ADDR
               LAB_HTTP_ALT_PORT)

# CLUSTERIP-only variables, unset by lab_set_env for a DR or NAT lab.
_LAB_CLUSTER_VARS=(LAB_NODE_NS LAB_NODE_IFS LAB_NODE_ADDRS LAB_NODE_NAMES LAB_CLUSTER_MAC)

# The kind of lab PREFIX is: "nat" when lab_up_nat made it, "clusterip" when lab_up_cluster made it
# (both write /tmp/PREFIX/mode first), else "dr".
_lab_mode_of() {
    local f="/tmp/$1/mode" m=""
    [[ -r "$f" ]] && m="$(< "$f")"
    case "$m" in
        nat|clusterip) echo "$m" ;;
        *) echo dr ;;
    esac
}

# lab_set_env PREFIX [N] [MODE]: sets and exports the LAB_* variables for lab PREFIX.
# MODE is dr, nat or clusterip; without it, the mode the lab was built in (dr when there is no such lab).
# N defaults to 2 (3 for clusterip).
lab_set_env() {
    local P="$1" N="${2:-}" mode="${3:-}" i
    _lab_check_prefix "$P" || return 1
    [[ -n "$mode" ]] || mode="$(_lab_mode_of "$P")"
    if [[ "$mode" != dr && "$mode" != nat && "$mode" != clusterip ]]; then
        lab_warn "lab_set_env: mode must be dr, nat or clusterip, got '$mode'"
        return 1
    fi
    if [[ -z "$N" ]]; then
        if [[ "$mode" == clusterip ]]; then N=3; else N=2; fi
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
    local net=10.99.1
    if [[ "$mode" == nat ]]; then
        net=10.99.4
        export LAB_ROUTER_FRONT_IF="$LAB_ROUTER_LAN_IF" LAB_ROUTER_FRONT_ADDR="$LAB_ROUTER_LAN_ADDR"
        export LAB_BALANCER_BACK_IF="${P}b1" LAB_BALANCER_BACK_ADDR=10.99.4.1
        export LAB_UDP_PORT=5353 LAB_HTTP_ALT_PORT=8081
    else
        unset "${_LAB_NAT_VARS[@]}"
    fi
    if [[ "$mode" == clusterip ]]; then export LAB_UDP_PORT=5353; elif [[ "$mode" != nat ]]; then unset LAB_UDP_PORT; fi
    local nsl=() ifs=() addrs=() names=()
    if [[ "$mode" == clusterip ]]; then
        # No balancer: every node runs an engine. The nodes are also the lab's "servers".
        unset LAB_BALANCER_NS LAB_BALANCER_IF LAB_BALANCER_ADDR
        for (( i = 1; i <= N; i++ )); do
            nsl+=("$P-n$i"); ifs+=("${P}n$i"); addrs+=("$net.$(( 10 + i ))"); names+=("node$i")
        done
        export LAB_NODE_NS="${nsl[*]}" LAB_NODE_IFS="${ifs[*]}"
        export LAB_NODE_ADDRS="${addrs[*]}" LAB_NODE_NAMES="${names[*]}"
        export LAB_CLUSTER_MAC=01:00:5e:7f:00:64
    else
        unset "${_LAB_CLUSTER_VARS[@]}"
        for (( i = 1; i <= N; i++ )); do
            nsl+=("$P-w$i"); ifs+=("${P}w$i"); addrs+=("$net.$(( 10 + i ))"); names+=("rs$i")
        done
    fi
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

# _lab_host_up NS DEV ADDR GATEWAY: a lab host's address (/24), link and default route.
_lab_host_up() {
    ip -n "$1" addr add "$3/24" dev "$2"
    ip -n "$1" link set "$2" up
    ip -n "$1" route add default via "$4"
}

# _lab_vip_on_lo NS DEV NAME: the VIP on lo with ARP suppressed, by `lb realserver setup` (or, with
# LB_REALSERVER_FALLBACK=1, by hand), then checked: a host that would answer ARP for the VIP steals it.
_lab_vip_on_lo() {
    local ns="$1" dev="$2" name="$3"
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
          "$(ip netns exec "$ns" sysctl -n net.ipv4.conf.all.arp_announce)" != 2 ||
          "$(ip netns exec "$ns" sysctl -n "net.ipv4.conf.$dev.arp_ignore")" != 1 ||
          "$(ip netns exec "$ns" sysctl -n "net.ipv4.conf.$dev.arp_announce")" != 2 ]]; then
        echo "[lab] error: arp_ignore/arp_announce not set in $ns after real-server setup" >&2
        return 1
    fi
}

# Creates the lab's namespaces (lo up in each). Part of _lab_create / _lab_create_nat (set -e).
_lab_add_namespaces() { # NS...
    local ns
    for ns in "$@"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
}

# Switch: a pure L2 box. No IPv6 chatter from its ports, no bridge netfilter.
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

# Client and router addresses, routes and sysctls (the links exist already).
_lab_client_router_setup() {
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

# _lab_start_udp_echo NS NAME: the UDP echo server on $LAB_UDP_PORT, detached like the upload server.
_lab_start_udp_echo() {
    local ns="$1" name="$2"
    ( ip netns exec "$ns" "$LAB_PYTHON" "$LAB_ROOT/lab/servers/udp_echo.py" \
        --name "$name" --port "$LAB_UDP_PORT" </dev/null >> "$LAB_DIR/$name-udp.log" 2>&1 & )
}

# Builds the namespaces, links and servers. Runs in its own bash (see lab_up)
# under set -e so that the first failing command stops it.
_lab_create() {
    set -euo pipefail
    trap 'echo "[lab] error: lab setup failed at line $LINENO: $BASH_COMMAND" >&2' ERR
    local P="$1" N="$2" i ns dev name addr
    lab_set_env "$P" "$N" dr
    read -r -a SNS <<< "$LAB_SERVER_NS"
    read -r -a SIFS <<< "$LAB_SERVER_IFS"
    read -r -a SADDRS <<< "$LAB_SERVER_ADDRS"
    read -r -a SNAMES <<< "$LAB_SERVER_NAMES"

    mkdir -m 0755 "$LAB_DIR"
    mkdir -m 0755 "$LAB_DIR/www"

    _lab_add_namespaces "$LAB_CLIENT_NS" "$LAB_ROUTER_NS" "$LAB_SWITCH_NS" "$LAB_BALANCER_NS" "${SNS[@]}"
    _lab_switch_setup

    # veths are created straight into their namespaces: nothing shows in the root namespace.
    ip link add "$LAB_CLIENT_IF" netns "$LAB_CLIENT_NS" type veth peer name "$LAB_ROUTER_CLIENT_IF" netns "$LAB_ROUTER_NS"
    ip link add "$LAB_ROUTER_LAN_IF" netns "$LAB_ROUTER_NS" type veth peer name "${P}sr" netns "$LAB_SWITCH_NS"
    ip link add "$LAB_BALANCER_IF" netns "$LAB_BALANCER_NS" type veth peer name "${P}sb" netns "$LAB_SWITCH_NS"
    for (( i = 0; i < N; i++ )); do
        ip link add "${SIFS[i]}" netns "${SNS[i]}" type veth peer name "${P}s$(( i + 1 ))" netns "$LAB_SWITCH_NS"
    done
    # shellcheck disable=SC2046
    _lab_bridge_ports "${P}sr" "${P}sb" $(for (( i = 1; i <= N; i++ )); do echo "${P}s$i"; done)

    _lab_client_router_setup

    # Balancer.
    _lab_sysctl "$LAB_BALANCER_NS" net.ipv4.ip_forward=0
    ip -n "$LAB_BALANCER_NS" addr add "$LAB_BALANCER_ADDR/24" dev "$LAB_BALANCER_IF"
    ip -n "$LAB_BALANCER_NS" link set "$LAB_BALANCER_IF" up
    ip -n "$LAB_BALANCER_NS" route add default via "$LAB_ROUTER_LAN_ADDR"

    _lab_make_big_file

    for (( i = 0; i < N; i++ )); do
        ns="${SNS[i]}"; dev="${SIFS[i]}"; addr="${SADDRS[i]}"; name="${SNAMES[i]}"
        _lab_host_up "$ns" "$dev" "$addr" "$LAB_ROUTER_LAN_ADDR"
        _lab_vip_on_lo "$ns" "$dev" "$name"

        _lab_start_servers "$ns" "$name"
    done
}

# The NAT lab (see the drawing at the top). Runs in its own bash (see lab_up_nat) under set -e.
_lab_create_nat() {
    set -euo pipefail
    trap 'echo "[lab] error: lab setup failed at line $LINENO: $BASH_COMMAND" >&2' ERR
    local P="$1" N="$2" i ns dev name addr extra
    lab_set_env "$P" "$N" nat
    read -r -a SNS <<< "$LAB_SERVER_NS"
    read -r -a SIFS <<< "$LAB_SERVER_IFS"
    read -r -a SADDRS <<< "$LAB_SERVER_ADDRS"
    read -r -a SNAMES <<< "$LAB_SERVER_NAMES"

    mkdir -m 0755 "$LAB_DIR"
    # First, so that lab_down and lab_set_env know this lab for a NAT one even half-built.
    echo nat > "$LAB_DIR/mode"
    mkdir -m 0755 "$LAB_DIR/www"

    _lab_add_namespaces "$LAB_CLIENT_NS" "$LAB_ROUTER_NS" "$LAB_SWITCH_NS" "$LAB_BALANCER_NS" "${SNS[@]}"
    _lab_switch_setup

    # veths are created straight into their namespaces: nothing shows in the root namespace.
    # Front: router <-> balancer directly. Back: balancer and servers on the switch's bridge.
    ip link add "$LAB_CLIENT_IF" netns "$LAB_CLIENT_NS" type veth peer name "$LAB_ROUTER_CLIENT_IF" netns "$LAB_ROUTER_NS"
    ip link add "$LAB_ROUTER_FRONT_IF" netns "$LAB_ROUTER_NS" type veth peer name "$LAB_BALANCER_IF" netns "$LAB_BALANCER_NS"
    ip link add "$LAB_BALANCER_BACK_IF" netns "$LAB_BALANCER_NS" type veth peer name "${P}sb" netns "$LAB_SWITCH_NS"
    for (( i = 0; i < N; i++ )); do
        ip link add "${SIFS[i]}" netns "${SNS[i]}" type veth peer name "${P}s$(( i + 1 ))" netns "$LAB_SWITCH_NS"
    done
    # shellcheck disable=SC2046
    _lab_bridge_ports "${P}sb" $(for (( i = 1; i <= N; i++ )); do echo "${P}s$i"; done)

    _lab_client_router_setup

    # Balancer: both arms addressed, no kernel forwarding (the engine forwards).
    _lab_sysctl "$LAB_BALANCER_NS" net.ipv4.ip_forward=0
    ip -n "$LAB_BALANCER_NS" addr add "$LAB_BALANCER_ADDR/24" dev "$LAB_BALANCER_IF"
    ip -n "$LAB_BALANCER_NS" addr add "$LAB_BALANCER_BACK_ADDR/24" dev "$LAB_BALANCER_BACK_IF"
    ip -n "$LAB_BALANCER_NS" link set "$LAB_BALANCER_IF" up
    ip -n "$LAB_BALANCER_NS" link set "$LAB_BALANCER_BACK_IF" up
    ip -n "$LAB_BALANCER_NS" route add default via "$LAB_ROUTER_FRONT_ADDR"

    _lab_make_big_file

    # Real servers: plain hosts whose gateway is the balancer's back address. No VIP, no ARP settings.
    for (( i = 0; i < N; i++ )); do
        ns="${SNS[i]}"; dev="${SIFS[i]}"; addr="${SADDRS[i]}"; name="${SNAMES[i]}"
        _lab_host_up "$ns" "$dev" "$addr" "$LAB_BALANCER_BACK_ADDR"

        extra=""
        [[ "$name" == rs2 ]] && extra="listen 0.0.0.0:$LAB_HTTP_ALT_PORT backlog=4096;"
        _lab_start_servers "$ns" "$name" "$extra"
        _lab_start_udp_echo "$ns" "$name"
    done
}

# The CLUSTERIP lab (see the drawing at the top). Runs in its own bash (see lab_up_cluster) under set -e.
_lab_create_cluster() {
    set -euo pipefail
    trap 'echo "[lab] error: lab setup failed at line $LINENO: $BASH_COMMAND" >&2' ERR
    local P="$1" N="$2" i ns dev name addr
    lab_set_env "$P" "$N" clusterip
    read -r -a NNS <<< "$LAB_NODE_NS"
    read -r -a NIFS <<< "$LAB_NODE_IFS"
    read -r -a NADDRS <<< "$LAB_NODE_ADDRS"
    read -r -a NNAMES <<< "$LAB_NODE_NAMES"

    mkdir -m 0755 "$LAB_DIR"
    # First, so that lab_down and lab_set_env know this lab for a CLUSTERIP one even half-built.
    echo clusterip > "$LAB_DIR/mode"
    mkdir -m 0755 "$LAB_DIR/www"

    _lab_add_namespaces "$LAB_CLIENT_NS" "$LAB_ROUTER_NS" "$LAB_SWITCH_NS" "${NNS[@]}"
    _lab_switch_setup
    # Without snooping the bridge floods frames to the multicast cluster MAC to every port.
    ip -n "$LAB_SWITCH_NS" link set "$LAB_BRIDGE" type bridge mcast_snooping 0

    # veths are created straight into their namespaces: nothing shows in the root namespace.
    ip link add "$LAB_CLIENT_IF" netns "$LAB_CLIENT_NS" type veth peer name "$LAB_ROUTER_CLIENT_IF" netns "$LAB_ROUTER_NS"
    ip link add "$LAB_ROUTER_LAN_IF" netns "$LAB_ROUTER_NS" type veth peer name "${P}sr" netns "$LAB_SWITCH_NS"
    for (( i = 0; i < N; i++ )); do
        ip link add "${NIFS[i]}" netns "${NNS[i]}" type veth peer name "${P}s$(( i + 1 ))" netns "$LAB_SWITCH_NS"
    done
    # shellcheck disable=SC2046
    _lab_bridge_ports "${P}sr" $(for (( i = 1; i <= N; i++ )); do echo "${P}s$i"; done)

    _lab_client_router_setup
    # The VIP's neighbour entry comes from the engines' ARP replies (multicast cluster MAC); accept
    # them. No static neighbour entry: whether ARP works is part of what the lab shows.
    _lab_sysctl "$LAB_ROUTER_NS" "net.ipv4.conf.$LAB_ROUTER_LAN_IF.arp_accept=1"

    _lab_make_big_file

    for (( i = 0; i < N; i++ )); do
        ns="${NNS[i]}"; dev="${NIFS[i]}"; addr="${NADDRS[i]}"; name="${NNAMES[i]}"
        _lab_host_up "$ns" "$dev" "$addr" "$LAB_ROUTER_LAN_ADDR"
        # VIP on lo, the kernel silent on ARP for it (the engine answers), as for a DR real server.
        _lab_vip_on_lo "$ns" "$dev" "$name"
        # Re-injected frames come in through a TAP the engine creates later (it inherits default).
        _lab_sysctl "$ns" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
            net.ipv4.conf.lo.rp_filter=0 "net.ipv4.conf.$dev.rp_filter=0"

        _lab_start_servers "$ns" "$name"
        _lab_start_udp_echo "$ns" "$name"
    done
}

# _lab_host_answers FROM_NS ADDR NAME PORT...: true when the host at ADDR answers NAME over HTTP on each
# PORT, and (when LAB_UDP_PORT is set) "NAME <payload>" from its UDP echo, asked from namespace FROM_NS.
_lab_host_answers() {
    local from="$1" addr="$2" name="$3" port out
    shift 3
    for port in "$@"; do
        out="$(ip netns exec "$from" curl -s --noproxy '*' --max-time 1 "http://$addr:$port/")" || return 1
        [[ "$out" == "$name" ]] || return 1
    done
    [[ -n "${LAB_UDP_PORT:-}" ]] || return 0
    out="$(ip netns exec "$from" "$LAB_PYTHON" "$LAB_ROOT/lab/servers/udp_echo.py" \
        --query "$addr" --port "$LAB_UDP_PORT" --payload ready --timeout 1)" || return 1
    [[ "$out" == "$name ready" ]]
}

# True when the balancer's two arms report operstate UP (the kernel sets it a little after link up;
# an engine that looks at it at start must not see DOWN).
_lab_nat_links_up() {
    local dev
    for dev in "$LAB_BALANCER_IF" "$LAB_BALANCER_BACK_IF"; do
        [[ "$(ip -n "$LAB_BALANCER_NS" -br link show dev "$dev" | awk '{ print $2 }')" == UP ]] || return 1
    done
}

_lab_write_env_file() {
    local v extra=() balancer=(LAB_BALANCER_NS LAB_BALANCER_IF LAB_BALANCER_ADDR)
    [[ "${LAB_MODE:-dr}" == nat ]] && extra=("${_LAB_NAT_VARS[@]}")
    if [[ "${LAB_MODE:-dr}" == clusterip ]]; then
        extra=("${_LAB_CLUSTER_VARS[@]}")
        balancer=()   # no balancer in a CLUSTERIP lab
    fi
    {
        for v in LAB_MODE LAB_PREFIX LAB_DIR LAB_N LAB_VIP LAB_HTTP_PORT LAB_UPLOAD_PORT \
                 LAB_CLIENT_NS LAB_CLIENT_IF LAB_CLIENT_ADDR \
                 LAB_ROUTER_NS LAB_ROUTER_CLIENT_IF LAB_ROUTER_CLIENT_ADDR LAB_ROUTER_LAN_IF LAB_ROUTER_LAN_ADDR \
                 LAB_SWITCH_NS LAB_BRIDGE "${balancer[@]}" \
                 LAB_SERVER_NS LAB_SERVER_IFS LAB_SERVER_ADDRS LAB_SERVER_NAMES \
                 LAB_BIG_FILE LAB_BIG_SHA256 LB_DLL "${extra[@]}"; do
            printf '%s="%s"\n' "$v" "${!v}"
        done
    } > "$LAB_DIR/lab.env"
}

# Steps shared by lab_up, lab_up_nat and lab_up_cluster.

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

# _lab_create_in_bash WHO P N CREATE_FN: runs the builder in its own bash under set -e (so the first
# failing command stops it and says where); on failure tears the half-built lab down.
_lab_create_in_bash() {
    local who="$1" P="$2" N="$3" create="$4"
    if ! LB_REALSERVER_FALLBACK="${LB_REALSERVER_FALLBACK:-}" LB_DLL="$LB_DLL" \
        bash -c 'source "$1"; fn="$2"; shift 2; "$fn" "$@"' "$create" "$_LAB_TOPOLOGY_SH" "$create" "$P" "$N"; then
        lab_warn "$who: setup of $P failed; tearing it down"
        lab_down "$P"
        return 1
    fi
}

# _lab_wait_hosts WHO P N FROM_NS WHERE: waits (bounded) until each host (server or node) answers on its own
# address from namespace FROM_NS (_lab_host_answers: nginx, the upload server, in a NAT lab rs2's second nginx
# port, the UDP echo where the lab has one); on a timeout shows the host's logs, tears the lab down and fails.
_lab_wait_hosts() {
    local who="$1" P="$2" N="$3" from="$4" where="$5" i name addrs names ports
    read -r -a addrs <<< "$LAB_SERVER_ADDRS"
    read -r -a names <<< "$LAB_SERVER_NAMES"
    for (( i = 0; i < N; i++ )); do
        name="${names[i]}"
        ports=("$LAB_HTTP_PORT" "$LAB_UPLOAD_PORT")
        [[ "$name" == rs2 && -n "${LAB_HTTP_ALT_PORT:-}" ]] && ports+=("$LAB_HTTP_ALT_PORT")
        if ! lab_wait_for 20 _lab_host_answers "$from" "${addrs[i]}" "$name" "${ports[@]}"; then
            lab_warn "$who: $name did not answer from the $where within 20 s"
            tail -n 20 "$LAB_DIR/$name-error.log" "$LAB_DIR/$name-upload.log" "$LAB_DIR/$name-udp.log" >&2 2>/dev/null || true
            lab_down "$P"
            return 1
        fi
    done
}

# lab_up PREFIX [N]: builds the lab with N real servers (default 2) and waits
# (bounded) until each server answers on its own address through the router.
# On failure it prints what it knows, tears the half-built lab down and returns 1.
lab_up() {
    local P="$1" N="${2:-2}"
    _lab_preflight lab_up "$P" "$N" && _lab_need_lb lab_up || return 1
    lab_log "creating lab $P with $N real servers"
    _lab_create_in_bash lab_up "$P" "$N" _lab_create || return 1
    lab_set_env "$P" "$N"
    _lab_wait_hosts lab_up "$P" "$N" "$LAB_CLIENT_NS" client || return 1
    _lab_write_env_file
    lab_log "lab $P is up (LAB_DIR=$LAB_DIR)"
}

# lab_up_nat PREFIX [N]: builds the NAT lab with N real servers (default 2) and waits (bounded)
# until each server answers on its own address from the balancer namespace. Needs no lb.dll.
# On failure it prints what it knows, tears the half-built lab down and returns 1.
lab_up_nat() {
    local P="$1" N="${2:-2}"
    _lab_preflight lab_up_nat "$P" "$N" || return 1
    lab_log "creating NAT lab $P with $N real servers"
    _lab_create_in_bash lab_up_nat "$P" "$N" _lab_create_nat || return 1
    lab_set_env "$P" "$N" nat
    if ! lab_wait_for 10 _lab_nat_links_up; then
        lab_warn "lab_up_nat: $LAB_BALANCER_IF/$LAB_BALANCER_BACK_IF not UP within 10 s"
        ip -n "$LAB_BALANCER_NS" -br link >&2 || true
        lab_down "$P"
        return 1
    fi
    _lab_wait_hosts lab_up_nat "$P" "$N" "$LAB_BALANCER_NS" balancer || return 1
    _lab_write_env_file
    lab_log "NAT lab $P is up (LAB_DIR=$LAB_DIR)"
}

# lab_up_cluster PREFIX [N]: builds the CLUSTERIP lab with N nodes (default 3) and waits (bounded)
# until each node answers on its own address from the router namespace. Starts no engine.
# On failure it prints what it knows, tears the half-built lab down and returns 1.
lab_up_cluster() {
    local P="$1" N="${2:-3}"
    _lab_preflight lab_up_cluster "$P" "$N" && _lab_need_lb lab_up_cluster || return 1
    lab_log "creating CLUSTERIP lab $P with $N nodes"
    _lab_create_in_bash lab_up_cluster "$P" "$N" _lab_create_cluster || return 1
    lab_set_env "$P" "$N" clusterip
    _lab_wait_hosts lab_up_cluster "$P" "$N" "$LAB_ROUTER_NS" router || return 1
    _lab_write_env_file
    lab_log "CLUSTERIP lab $P is up (LAB_DIR=$LAB_DIR)"
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
        # under /run/lb does not outlive the namespace. A NAT lab had none; in a CLUSTERIP lab the
        # nodes had it. (Engines still running in the nodes are stopped by the SIGTERM below.)
        local mode
        mode="$(_lab_mode_of "$P")"
        for ns in "${nss[@]}"; do
            if [[ ( ( "$mode" == dr && "$ns" == "$P"-w* ) || ( "$mode" == clusterip && "$ns" == "$P"-n* ) ) &&
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

# lab_write_dr_config PREFIX FILE: the engine config for this lab's DR services
# (web on :80 and upload on :8080, every real server as a backend).
lab_write_dr_config() {
    local P="$1" file="$2" N i
    _lab_check_prefix "$P" || return 1
    N="$(_lab_host_count "$P" w 2)"
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

# lab_write_nat_config PREFIX FILE: the engine config for this lab's NAT services: web on :80
# (rs2 on its port 8081, the others on 80), upload on :8080 and the UDP echo on :5353, every real
# server as a backend; front interface <P>b0, back interface <P>b1, gateway the router's 10.99.1.1.
lab_write_nat_config() {
    local P="$1" file="$2" N i
    _lab_check_prefix "$P" || return 1
    N="$(_lab_host_count "$P" w 2)"
    local web="" others=""
    for (( i = 1; i <= N; i++ )); do
        if (( i == 2 )); then
            web+="      - {name: rs$i, address: 10.99.4.$(( 10 + i )), port: 8081}"$'\n'
        else
            web+="      - {name: rs$i, address: 10.99.4.$(( 10 + i ))}"$'\n'
        fi
        others+="      - {name: rs$i, address: 10.99.4.$(( 10 + i ))}"$'\n'
    done
    local svc='  - name: %s\n    vip: 10.99.0.100\n    port: %s\n    protocol: %s\n    mode: nat\n'
    svc+='    interface: %sb0\n    backend_interface: %sb1\n    gateway: 10.99.1.1\n    backends:\n'
    {
        printf 'hash_seed: 0x5eed\n'
        printf 'workers: 1\n'
        printf 'control_socket: /tmp/%s/lb.sock\n' "$P"
        printf 'services:\n'
        # shellcheck disable=SC2059  # the format is ours
        printf "$svc" web 80 tcp "$P" "$P"
        printf '%s' "$web"
        # shellcheck disable=SC2059
        printf "$svc" upload 8080 tcp "$P" "$P"
        printf '%s' "$others"
        # shellcheck disable=SC2059
        printf "$svc" echo 5353 udp "$P" "$P"
        printf '%s' "$others"
    } > "$file"
}

# lab_write_cluster_config PREFIX NODE FILE: node NODE's (1-based) engine config for this CLUSTERIP lab:
# web on :80 and the UDP echo on :5353 in clusterip mode on <P>nNODE, every node of the lab listed, own
# control socket.
lab_write_cluster_config() {
    local P="$1" node="$2" file="$3" N i nodes=""
    _lab_check_prefix "$P" || return 1
    N="$(_lab_host_count "$P" n 3)"
    if [[ ! "$node" =~ ^[0-9]+$ ]] || (( node < 1 || node > N )); then
        lab_warn "lab_write_cluster_config: node must be 1..$N, got '$node'"
        return 1
    fi
    for (( i = 1; i <= N; i++ )); do
        nodes+="        - {id: $i, address: 10.99.1.$(( 10 + i ))}"$'\n'
    done
    {
        printf 'hash_seed: 0x5eed\n'
        printf 'workers: 1\n'
        printf 'control_socket: /tmp/%s/lb-node%s.sock\n' "$P" "$node"
        # A short UDP timeout: after a membership change a node waits that long before it takes UDP in buckets
        # a live node held, and a lab should not wait the default 60 s.
        printf 'flow_timeouts: {udp: 10s}\n'
        printf 'services:\n'
        printf '  - name: web\n    vip: 10.99.0.100\n    port: 80\n    protocol: tcp\n    mode: clusterip\n    interface: %sn%s\n' "$P" "$node"
        printf '    cluster:\n      mac: 01:00:5e:7f:00:64\n      hash: sourceip-sourceport\n      local_node: %s\n      nodes:\n' "$node"
        printf '%s' "$nodes"
        printf '    health: {type: tcp, port: 80, interval: 1s, timeout: 500ms, rise: 2, fall: 2}\n'
        # The UDP echo on every node, in the same cluster.
        printf '  - name: echo\n    vip: 10.99.0.100\n    port: 5353\n    protocol: udp\n    mode: clusterip\n    interface: %sn%s\n' "$P" "$node"
        printf '    cluster:\n      mac: 01:00:5e:7f:00:64\n      hash: sourceip-sourceport\n      local_node: %s\n      nodes:\n' "$node"
        printf '%s' "$nodes"
        printf '    health: {type: tcp, port: 80, interval: 1s, timeout: 500ms, rise: 2, fall: 2}\n'
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
# does not also pay for the LAN bridge (it would then cap the measurement, not the balancer). Where the
# balancer's receive processing for <P>b1 runs (RPS) is the caller's choice (lab/compare.py sets it).
# Exports LAB_GEN_NS LAB_GEN_IF LAB_GEN_ADDR LAB_BALANCER_GEN_IF LAB_BALANCER_GEN_ADDR.
lab_add_generator() {
    local P="$1"
    _lab_check_prefix "$P" || return 1
    if [[ "$(_lab_mode_of "$P")" == nat ]]; then
        lab_warn "lab_add_generator: not for a NAT lab ($P""b1 is its balancer's back arm)"
        return 1
    fi
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
}
