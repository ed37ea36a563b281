# shellcheck shell=bash
# The NAT lab (lab_up_nat), two-armed: the balancer is the real servers' gateway, rewrites the destination
# address (and port) on the way in and the source on the way back.
#
#   client ns  <P>-c   <P>c0 10.99.2.2/24 2001:db8:2::2/64, default via 10.99.2.1 / 2001:db8:2::1
#        |
#   router ns  <P>-r   <P>r0 10.99.2.1/24 2001:db8:2::1/64   <P>r1 10.99.1.1/24 2001:db8:1::1/64 (front link),
#        |             forwarding on, rp_filter=2, routes 10.99.0.100/32 and 2001:db8::100/128 dev <P>r1
#        |             (the VIPs found by ARP and neighbour discovery)
#        |  direct veth pair <P>r1 <-> <P>b0 (no bridge on the front)
#   balancer ns <P>-b  <P>b0 10.99.1.10/24 2001:db8:1::10/64 (front), <P>b1 10.99.4.1/24 2001:db8:4::1/64 (back),
#        |             default via 10.99.1.1 / 2001:db8:1::1, no forwarding (the engine forwards, not the kernel)
#   switch ns  <P>-s   back bridge <P>br (no STP, forward delay 0, bridge-nf off),
#        |             ports <P>sb (balancer's <P>b1), <P>s1..<P>sN (servers)
#        +-- server ns    <P>-wI  <P>wI 10.99.4.(10+I)/24 2001:db8:4::(10+I)/64, default via 10.99.4.1 /
#                                 2001:db8:4::1 (advmss 1440: they tell clients 1500-byte IPv6 packets fit);
#                                 no VIP, no ARP settings; nginx :80 on both families (rs2 also :8081, same
#                                 content), upload server :8080 and UDP echo :5353 ("rsI <payload>"), each
#                                 once per family
#   No route to 10.99.4.0/24 or 2001:db8:4::/64 on the router: the client reaches the servers only through the engine.
#   LAB_BACK_MTU (LAB_NAT_BACK_MTU at build time, default 1500) is the MTU of the whole back segment (<P>b1, the bridge's ports, the servers'
#   links). Below 1500 the servers' advmss makes a client's full-sized IPv6 segment too big for it, so only the
#   balancer's Packet Too Big lets an upload through (IPv4 servers advertise what their MTU allows).
#
# Needs neither LB_DLL nor LB_REALSERVER_FALLBACK: its servers are plain hosts.

# NAT-only variables (lab_set_env unsets them for the other labs; lab.env lists them for a NAT lab).
_LAB_NAT_VARS=(LAB_ROUTER_FRONT_IF LAB_ROUTER_FRONT_ADDR LAB_ROUTER_FRONT_ADDR6 LAB_BALANCER_BACK_IF LAB_BALANCER_BACK_ADDR
               LAB_BALANCER_BACK_ADDR6 LAB_HTTP_ALT_PORT LAB_UDP_PORT LAB_BACK_MTU)

_lab_env_nat() { # P N
    local P="$1"
    export LAB_ROUTER_FRONT_IF="$LAB_ROUTER_LAN_IF" LAB_ROUTER_FRONT_ADDR="$LAB_ROUTER_LAN_ADDR"
    export LAB_ROUTER_FRONT_ADDR6="$LAB_ROUTER_LAN_ADDR6"
    export LAB_BALANCER_BACK_IF="${P}b1" LAB_BALANCER_BACK_ADDR=10.99.4.1 LAB_BALANCER_BACK_ADDR6=2001:db8:4::1
    # Chosen at build time (LAB_NAT_BACK_MTU), then the lab's own.
    LAB_BACK_MTU="${LAB_NAT_BACK_MTU:-1500}"
    [[ -r "/tmp/$P/back_mtu" ]] && LAB_BACK_MTU="$(< "/tmp/$P/back_mtu")"
    export LAB_BACK_MTU
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
    _lab_host_up6 "$LAB_BALANCER_NS" "$LAB_BALANCER_IF" "$LAB_BALANCER_ADDR6" "$LAB_ROUTER_FRONT_ADDR6"
    _lab_sysctl "$LAB_BALANCER_NS" "net.ipv6.conf.$LAB_BALANCER_BACK_IF.accept_ra=0"
    ip -n "$LAB_BALANCER_NS" addr add "$LAB_BALANCER_BACK_ADDR6/64" dev "$LAB_BALANCER_BACK_IF" nodad
    echo "$LAB_BACK_MTU" > "$LAB_DIR/back_mtu"
    local i
    ip -n "$LAB_BALANCER_NS" link set "$LAB_BALANCER_BACK_IF" mtu "$LAB_BACK_MTU"
    ip -n "$LAB_SWITCH_NS" link set "${LAB_PREFIX}sb" mtu "$LAB_BACK_MTU"
    for (( i = 1; i <= LAB_N; i++ )); do
        ip -n "$LAB_SWITCH_NS" link set "${LAB_PREFIX}s$i" mtu "$LAB_BACK_MTU"
    done

    # Real servers: plain hosts whose gateway is the balancer's back address. No VIP, no ARP settings.
    _lab_create_hosts "$LAB_BALANCER_BACK_ADDR" _lab_nat_host "$LAB_BALANCER_BACK_ADDR6"
}

# Per server (a _lab_create_hosts step): the back segment's MTU, the IPv6 route's advmss, and the IPv6 twins of
# the upload server and the UDP echo (nginx listens on both families by itself).
_lab_nat_host() { # NS DEV NAME
    ip -n "$1" link set "$2" mtu "$LAB_BACK_MTU"
    # The MSS a 1500-byte path allows, whatever this link's MTU: the client's full-sized segments then need the
    # balancer's Packet Too Big when the back segment is narrower.
    ip -n "$1" -6 route replace default via "$LAB_BALANCER_BACK_ADDR6" dev "$2" advmss 1440
    _lab_start_upload6 "$1" "$3"
    _lab_start_udp_echo "$1" "$3" ::
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
    _lab_wait_hosts lab_up_nat "$P" "$N" "$LAB_BALANCER_NS" balancer ipv6 || return 1
    _lab_write_env_file "${_LAB_NAT_VARS[@]}"
    lab_log "NAT lab $P is up (LAB_DIR=$LAB_DIR)"
}

# lab_write_nat_config PREFIX [ipv4] FILE: the engine config for this lab's NAT services: web on :80
# (rs2 on its port 8081, the others on 80), upload on :8080 and the UDP echo on :5353, every real
# server as a backend; front interface <P>b0, back interface <P>b1, gateway the router's 10.99.1.1.
# Beside them, unless "ipv4" is given, their IPv6 twins web6, upload6 and echo6 on [2001:db8::100], the
# servers' IPv6 addresses as backends, gateway the router's 2001:db8:1::1.
lab_write_nat_config() {
    local P="$1" file="$2" ipv6=1 N i
    if [[ $# -ge 3 ]]; then
        [[ "$2" == ipv4 ]] || { lab_warn "lab_write_nat_config: expected 'ipv4' or nothing before the file, got '$2'"; return 1; }
        ipv6=0 file="$3"
    fi
    _lab_check_prefix "$P" || return 1
    N="$(_lab_host_count "$P" w 2)"
    local web="" others="" web6="" others6=""
    for (( i = 1; i <= N; i++ )); do
        if (( i == 2 )); then
            web+="      - {name: rs$i, address: 10.99.4.$(( 10 + i )), port: 8081}"$'\n'
            web6+="      - {name: rs$i, address: '2001:db8:4::$(( 10 + i ))', port: 8081}"$'\n'
        else
            web+="      - {name: rs$i, address: 10.99.4.$(( 10 + i ))}"$'\n'
            web6+="      - {name: rs$i, address: '2001:db8:4::$(( 10 + i ))'}"$'\n'
        fi
        others+="      - {name: rs$i, address: 10.99.4.$(( 10 + i ))}"$'\n'
        others6+="      - {name: rs$i, address: '2001:db8:4::$(( 10 + i ))'}"$'\n'
    done
    local svc='  - name: %s\n    vip: %s\n    port: %s\n    protocol: %s\n    mode: nat\n'
    svc+='    interface: %sb0\n    backend_interface: %sb1\n    gateway: %s\n    backends:\n'
    {
        _lab_config_head "$P" lb.sock
        printf 'services:\n'
        # shellcheck disable=SC2059  # the format is ours
        printf "$svc" web 10.99.0.100 80 tcp "$P" "$P" 10.99.1.1
        printf '%s' "$web"
        # shellcheck disable=SC2059
        printf "$svc" upload 10.99.0.100 8080 tcp "$P" "$P" 10.99.1.1
        printf '%s' "$others"
        # shellcheck disable=SC2059
        printf "$svc" echo 10.99.0.100 5353 udp "$P" "$P" 10.99.1.1
        printf '%s' "$others"
        if (( ipv6 )); then
            # shellcheck disable=SC2059
            printf "$svc" web6 "'2001:db8::100'" 80 tcp "$P" "$P" "'2001:db8:1::1'"
            printf '%s' "$web6"
            # shellcheck disable=SC2059
            printf "$svc" upload6 "'2001:db8::100'" 8080 tcp "$P" "$P" "'2001:db8:1::1'"
            printf '%s' "$others6"
            # shellcheck disable=SC2059
            printf "$svc" echo6 "'2001:db8::100'" 5353 udp "$P" "$P" "'2001:db8:1::1'"
            printf '%s' "$others6"
        fi
    } > "$file"
}
