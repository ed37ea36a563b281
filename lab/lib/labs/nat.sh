# shellcheck shell=bash
# The NAT lab (lab_up_nat), two-armed: the balancer is the real servers' gateway, rewrites the destination
# address (and port) on the way in and the source on the way back.
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
# Needs neither LB_DLL nor LB_REALSERVER_FALLBACK: its servers are plain hosts.

# NAT-only variables (lab_set_env unsets them for the other labs; lab.env lists them for a NAT lab).
_LAB_NAT_VARS=(LAB_ROUTER_FRONT_IF LAB_ROUTER_FRONT_ADDR LAB_BALANCER_BACK_IF LAB_BALANCER_BACK_ADDR
               LAB_HTTP_ALT_PORT)

_lab_env_nat() { # P N
    local P="$1"
    export LAB_ROUTER_FRONT_IF="$LAB_ROUTER_LAN_IF" LAB_ROUTER_FRONT_ADDR="$LAB_ROUTER_LAN_ADDR"
    export LAB_BALANCER_BACK_IF="${P}b1" LAB_BALANCER_BACK_ADDR=10.99.4.1
    export LAB_UDP_PORT=5353 LAB_HTTP_ALT_PORT=8081
    _lab_export_hosts "$P" w 10.99.4 rs "$2"
}

# Runs in its own bash (see _lab_build) under set -e.
_lab_create_nat() {
    _lab_create_begin nat "$@"
    # Front: router <-> balancer directly. Back: balancer and servers on the switch's bridge.
    ip link add "$LAB_ROUTER_FRONT_IF" netns "$LAB_ROUTER_NS" type veth peer name "$LAB_BALANCER_IF" netns "$LAB_BALANCER_NS"
    ip link add "$LAB_BALANCER_BACK_IF" netns "$LAB_BALANCER_NS" type veth peer name "${LAB_PREFIX}sb" netns "$LAB_SWITCH_NS"
    _lab_host_links "${LAB_PREFIX}sb"

    _lab_client_router_setup

    # Balancer: both arms addressed, no kernel forwarding (the engine forwards).
    _lab_sysctl "$LAB_BALANCER_NS" net.ipv4.ip_forward=0
    ip -n "$LAB_BALANCER_NS" addr add "$LAB_BALANCER_ADDR/24" dev "$LAB_BALANCER_IF"
    ip -n "$LAB_BALANCER_NS" addr add "$LAB_BALANCER_BACK_ADDR/24" dev "$LAB_BALANCER_BACK_IF"
    ip -n "$LAB_BALANCER_NS" link set "$LAB_BALANCER_IF" up
    ip -n "$LAB_BALANCER_NS" link set "$LAB_BALANCER_BACK_IF" up
    ip -n "$LAB_BALANCER_NS" route add default via "$LAB_ROUTER_FRONT_ADDR"

    # Real servers: plain hosts whose gateway is the balancer's back address. No VIP, no ARP settings.
    _lab_create_hosts "$LAB_BALANCER_BACK_ADDR"
}

# True when the balancer's two arms report operstate UP (the kernel sets it a little after link up;
# an engine that looks at it at start must not see DOWN).
_lab_nat_links_up() {
    local dev
    for dev in "$LAB_BALANCER_IF" "$LAB_BALANCER_BACK_IF"; do
        [[ "$(ip -n "$LAB_BALANCER_NS" -br link show dev "$dev" | awk '{ print $2 }')" == UP ]] || return 1
    done
}

# lab_up_nat PREFIX [N]: builds the NAT lab with N real servers (default 2) and waits (bounded)
# until each server answers on its own address from the balancer namespace. Needs no lb.dll.
# On failure it prints what it knows, tears the half-built lab down and returns 1.
lab_up_nat() {
    local P="$1" N="${2:-2}"
    _lab_preflight lab_up_nat "$P" "$N" || return 1
    lab_log "creating NAT lab $P with $N real servers"
    _lab_build lab_up_nat nat "$P" "$N" || return 1
    if ! lab_wait_for 10 _lab_nat_links_up; then
        lab_warn "lab_up_nat: $LAB_BALANCER_IF/$LAB_BALANCER_BACK_IF not UP within 10 s"
        ip -n "$LAB_BALANCER_NS" -br link >&2 || true
        lab_down "$P"
        return 1
    fi
    _lab_wait_hosts lab_up_nat "$P" "$N" "$LAB_BALANCER_NS" balancer || return 1
    _lab_write_env_file "${_LAB_NAT_VARS[@]}"
    lab_log "NAT lab $P is up (LAB_DIR=$LAB_DIR)"
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
        _lab_config_head "$P" lb.sock
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
