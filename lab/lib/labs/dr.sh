# shellcheck shell=bash
# The DR lab (lab_up): one balancer on the servers' LAN; it rewrites only the destination MAC, and the
# servers answer the client straight through the router, from the VIP.
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
# The servers' replies come from the VIP, so the router's rp_filter is loose (../shared/LAB.md item 3), and
# the servers must stay silent on ARP for the VIP they hold on lo (item 4), or they steal its traffic.
# lab_add_generator adds a generator arm <P>b1 to the balancer for pps runs.

_lab_env_dr() { # P N
    _lab_export_hosts "$1" w 10.99.1 rs "$2"
}

# Runs in its own bash (see _lab_build) under set -e.
_lab_create_dr() {
    _lab_create_begin dr "$@"
    local P="$LAB_PREFIX"
    # Router and balancer on the switch.
    ip link add "$LAB_ROUTER_LAN_IF" netns "$LAB_ROUTER_NS" type veth peer name "${P}sr" netns "$LAB_SWITCH_NS"
    ip link add "$LAB_BALANCER_IF" netns "$LAB_BALANCER_NS" type veth peer name "${P}sb" netns "$LAB_SWITCH_NS"
    _lab_host_links "${P}sr" "${P}sb"

    _lab_client_router_setup

    # Balancer: one arm on the LAN; the engine forwards, not the kernel.
    _lab_sysctl "$LAB_BALANCER_NS" net.ipv4.ip_forward=0
    _lab_host_up "$LAB_BALANCER_NS" "$LAB_BALANCER_IF" "$LAB_BALANCER_ADDR" "$LAB_ROUTER_LAN_ADDR"
    _lab_host_up6 "$LAB_BALANCER_NS" "$LAB_BALANCER_IF" "$LAB_BALANCER_ADDR6" "$LAB_ROUTER_LAN_ADDR6"

    # Real servers: the VIP on lo, silent on ARP for it.
    _lab_create_hosts "$LAB_ROUTER_LAN_ADDR" _lab_vip_on_lo "$LAB_ROUTER_LAN_ADDR6"
}

# lab_up PREFIX [N]: builds the lab with N real servers (default 2) and waits
# (bounded) until each server answers on its own address through the router.
# On failure it prints what it knows, tears the half-built lab down and returns 1.
lab_up() {
    local P="$1" N="${2:-2}"
    _lab_preflight lab_up "$P" "$N" && _lab_need_lb lab_up || return 1
    lab_log "creating lab $P with $N real servers"
    _lab_build lab_up dr "$P" "$N" || return 1
    _lab_wait_hosts lab_up "$P" "$N" "$LAB_CLIENT_NS" client || return 1
    _lab_write_env_file
    lab_log "lab $P is up (LAB_DIR=$LAB_DIR)"
}

# lab_write_dr_config PREFIX [ipv4] FILE: the engine config for this lab's DR services
# (web on :80 and upload on :8080, every real server as a backend; web6 on [VIP6]:80 beside them, the
# servers' IPv6 addresses as its backends, unless "ipv4" is given).
lab_write_dr_config() {
    local P="$1" file="$2" ipv6=1 N i
    if [[ $# -ge 3 ]]; then
        [[ "$2" == ipv4 ]] || { lab_warn "lab_write_dr_config: expected 'ipv4' or nothing before the file, got '$2'"; return 1; }
        ipv6=0 file="$3"
    fi
    _lab_check_prefix "$P" || return 1
    N="$(_lab_host_count "$P" w 2)"
    local backends="" backends6=""
    for (( i = 1; i <= N; i++ )); do
        backends+="      - name: rs$i"$'\n'"        address: 10.99.1.$(( 10 + i ))"$'\n'
        backends6+="      - name: rs$i"$'\n'"        address: 2001:db8:1::$(( 10 + i ))"$'\n'
    done
    local svc='  - name: %s\n    vip: 10.99.0.100\n    port: %s\n    protocol: tcp\n    mode: dr\n    interface: %sb0\n    backends:\n'
    {
        _lab_config_head "$P" lb.sock
        printf 'services:\n'
        # shellcheck disable=SC2059  # the format is ours
        printf "$svc" web 80 "$P"
        printf '%s' "$backends"
        # shellcheck disable=SC2059
        printf "$svc" upload 8080 "$P"
        printf '%s' "$backends"
        if (( ipv6 )); then
            # shellcheck disable=SC2059
            printf "${svc/10.99.0.100/2001:db8::100}" web6 80 "$P"
            printf '%s' "$backends6"
        fi
    } > "$file"
}

# lab_add_generator PREFIX: a traffic-generator namespace <P>-g wired straight to the balancer by its own
# veth (<P>g0 10.99.3.2/24 and 2001:db8:3::2/64 <-> <P>b1 10.99.3.1/24 and 2001:db8:3::1/64 in the balancer
# namespace), so a pps run's generator does not also pay for the LAN bridge (it would then cap the
# measurement, not the balancer). Where the balancer's receive processing for <P>b1 runs (RPS) is the
# caller's choice (lab/compare/ sets it). The IPv6 addresses skip duplicate detection (usable at once) and
# take no router advertisements, as every lab host's do (_lab_host_up6); no default routes: the generator
# writes its frames whole and only needs the balancer's MAC.
# Exports LAB_GEN_NS LAB_GEN_IF LAB_GEN_ADDR LAB_GEN_ADDR6 LAB_BALANCER_GEN_IF LAB_BALANCER_GEN_ADDR
# LAB_BALANCER_GEN_ADDR6.
lab_add_generator() {
    local P="$1"
    _lab_check_prefix "$P" || return 1
    if [[ "$(_lab_mode_of "$P")" == nat ]]; then
        lab_warn "lab_add_generator: not for a NAT lab ($P""b1 is its balancer's back arm)"
        return 1
    fi
    export LAB_GEN_NS="$P-g" LAB_GEN_IF="${P}g0" LAB_GEN_ADDR=10.99.3.2 LAB_GEN_ADDR6=2001:db8:3::2
    export LAB_BALANCER_GEN_IF="${P}b1" LAB_BALANCER_GEN_ADDR=10.99.3.1 LAB_BALANCER_GEN_ADDR6=2001:db8:3::1
    ip netns add "$LAB_GEN_NS" || return 1
    ip link add "$LAB_GEN_IF" netns "$LAB_GEN_NS" type veth peer "$LAB_BALANCER_GEN_IF" netns "$LAB_BALANCER_NS" || return 1
    ip -n "$LAB_GEN_NS" link set lo up
    ip -n "$LAB_GEN_NS" addr add "$LAB_GEN_ADDR/24" dev "$LAB_GEN_IF"
    ip -n "$LAB_GEN_NS" link set "$LAB_GEN_IF" up
    ip -n "$LAB_BALANCER_NS" addr add "$LAB_BALANCER_GEN_ADDR/24" dev "$LAB_BALANCER_GEN_IF"
    ip -n "$LAB_BALANCER_NS" link set "$LAB_BALANCER_GEN_IF" up
    ip netns exec "$LAB_BALANCER_NS" sysctl -qw "net.ipv4.conf.$LAB_BALANCER_GEN_IF.rp_filter=0" \
        "net.ipv4.conf.$LAB_BALANCER_GEN_IF.send_redirects=0"
    _lab_sysctl "$LAB_GEN_NS" "net.ipv6.conf.$LAB_GEN_IF.accept_ra=0" net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
    _lab_sysctl "$LAB_BALANCER_NS" "net.ipv6.conf.$LAB_BALANCER_GEN_IF.accept_ra=0"
    ip -n "$LAB_GEN_NS" addr add "$LAB_GEN_ADDR6/64" dev "$LAB_GEN_IF" nodad
    ip -n "$LAB_BALANCER_NS" addr add "$LAB_BALANCER_GEN_ADDR6/64" dev "$LAB_BALANCER_GEN_IF" nodad
}
